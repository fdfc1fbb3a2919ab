/* Stand-in for the GCint.h that configure's AX_CREATE_STDINT_H generates:
   on any C99 system it simply amounts to <stdint.h>. */
#ifndef DISCO_GCINT_H
#define DISCO_GCINT_H
#include <stdint.h>
#endif
