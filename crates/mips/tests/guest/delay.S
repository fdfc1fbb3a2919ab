/* Delay slots and branch-likely, written by hand. Each check stores one
 * doubleword into `results`; at the end the array is written to stdout (raw
 * bytes) and the program exits with status 0. Addresses are stored relative
 * to a label so that they do not depend on the load address. */
    .set noreorder
    .set mips64r2

#define SLOT(n) ((n) * 8)($s0)

    .text
    .globl _start
    .ent _start
_start:
    dla     $s0, results

    /* 0: branch-likely not taken nullifies its delay slot. */
    li      $t0, 1
    li      $t1, 0
    beql    $t0, $zero, 1f
    addiu   $t1, $t1, 5
1:  sd      $t1, SLOT(0)

    /* 1: branch-likely taken executes its delay slot. */
    li      $t1, 0
    bnel    $t0, $zero, 1f
    addiu   $t1, $t1, 7
    addiu   $t1, $t1, 100
1:  sd      $t1, SLOT(1)

    /* 2: bltzal not taken still links (ra = address after the delay slot). */
    li      $ra, 0
    bltzal  $t0, 2f
    nop
2:  dla     $t2, 2b
    dsubu   $t2, $ra, $t2
    sd      $t2, SLOT(2)

    /* 3, 4: bgezall not taken links and nullifies. */
    li      $t0, -1
    li      $t1, 0
    bgezall $t0, 9f
    addiu   $t1, $t1, 1
3:  sd      $t1, SLOT(3)
    dla     $t2, 3b
    dsubu   $t2, $ra, $t2
    sd      $t2, SLOT(4)

    /* 5: a delay slot that rewrites the compared register does not change
     * the branch decision. */
    li      $t0, 0
    beq     $t0, $zero, 1f
    li      $t0, 9
    li      $t0, 100
1:  sd      $t0, SLOT(5)

    /* 6: jr uses the register value from before its delay slot. */
    dla     $t9, 1f
    jr      $t9
    daddiu  $t9, $t9, 8
    li      $t9, 0
1:  dla     $t2, 1b
    dsubu   $t2, $t9, $t2
    sd      $t2, SLOT(6)

    /* 7: jalr with rd = rs jumps to the old value and links. */
    dla     $t9, 1f
    .word   0x0320c809           /* jalr $t9, $t9 (GAS refuses rd = rs) */
    nop
1:  dla     $t2, 1b
    dsubu   $t2, $t9, $t2
    sd      $t2, SLOT(7)

    /* 8: delay slot of a backward branch runs on every iteration. */
    li      $t0, 10
    li      $t1, 0
1:  addiu   $t0, $t0, -1
    bnez    $t0, 1b
    addiu   $t1, $t1, 3
    sd      $t1, SLOT(8)

    /* 9: branch-likely loop: the delay slot runs only when taken. */
    li      $t0, 10
    li      $t1, 0
1:  addiu   $t0, $t0, -1
    bnel    $t0, $zero, 1b
    addiu   $t1, $t1, 3
    sd      $t1, SLOT(9)

    /* 10: load in the delay slot, used at the target. */
    dla     $t2, value
    b       1f
    ld      $t3, 0($t2)
    li      $t3, 0
1:  sd      $t3, SLOT(10)

    /* 11: multiply in the delay slot. */
    li      $t0, 6
    li      $t1, -7
    b       1f
    mult    $t0, $t1
    nop
1:  mflo    $t2
    sd      $t2, SLOT(11)

    /* 12: store in a nullified delay slot does not happen. */
    li      $t0, 0x77
    sd      $zero, SLOT(12)
    bnel    $zero, $zero, 1f
    sd      $t0, SLOT(12)
1:

    /* 13, 14: bal links the address after its delay slot (label - 4). */
    li      $t1, 0
    bal     1f
    addiu   $t1, $t1, 1
    addiu   $t1, $t1, 100
1:  dla     $t2, 1b
    dsubu   $t2, $ra, $t2
    sd      $t2, SLOT(13)
    sd      $t1, SLOT(14)

    /* 15..: branches in the last word of a page (delay slot on the next). */
    j       page_tests
    nop
9:  jr      $ra                 /* target of bgezall above, never taken */
    nop

back_from_pages:
    /* write(1, results, 8 * NRESULTS); exit(0) */
    li      $v0, 5001
    li      $a0, 1
    move    $a1, $s0
    li      $a2, 8 * 24
    syscall
    li      $v0, 5058
    li      $a0, 0
    syscall
    .end _start

    .balign 4096
    .space  4096 - 12
page_tests:
    li      $t1, 0
    li      $t0, 1
    bnez    $t0, 1f              /* last word of the page, taken */
    addiu   $t1, $t1, 1          /* delay slot: first word of the next page */
    addiu   $t1, $t1, 100
1:  sd      $t1, SLOT(15)
    b       page2
    nop

    .balign 4096
    .space  4096 - 8
page2:
    li      $t1, 0
    beql    $t0, $zero, 1f       /* not taken: skips the slot on the next page */
    addiu   $t1, $t1, 1
    addiu   $t1, $t1, 2
1:  sd      $t1, SLOT(16)
    b       page3
    nop

    .balign 4096
    .space  4096 - 8
page3:
    li      $t1, 0
    jal     1f                   /* last word of the page */
    addiu   $t1, $t1, 4          /* delay slot on the next page */
    addiu   $t1, $t1, 100
1:  sd      $t1, SLOT(17)
    dla     $t2, page3
    dsubu   $t2, $ra, $t2
    sd      $t2, SLOT(18)
    /* bnel taken at a page end, delay slot on the next page. */
    b       page4
    nop

    .balign 4096
    .space  4096 - 8
page4:
    li      $t1, 0
    bnel    $t0, $zero, 1f
    addiu   $t1, $t1, 8
    addiu   $t1, $t1, 100
1:  sd      $t1, SLOT(19)
    j       back_from_pages
    nop

    .data
    .balign 8
value:
    .dword  0x1234
results:
    .space  8 * 24
