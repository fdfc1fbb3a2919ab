/* Hand-written stand-in for the config.h that gnuchess's configure would
   produce on a Debian mips64el/x86-64 system.  The disco pmake workload
   never runs configure; only the macros the sources actually use are set. */
#ifndef DISCO_GNUCHESS_CONFIG_H
#define DISCO_GNUCHESS_CONFIG_H
#define PACKAGE "gnuchess"
#define PACKAGE_NAME "GNU Chess"
#define PACKAGE_VERSION "6.2.7"
#define VERSION "6.2.7"
#define ENABLE_NLS 0
#define HAVE_PTHREAD 1
#define STDC_HEADERS 1
/* readline is deliberately not used (HAVE_LIBREADLINE stays undefined) */
#endif
