//! Memory sharing on the monitor with hand-assembled guests: VMs reading
//! one copy-on-write disk share its pages through the global disk cache,
//! and every way a guest can write a shared page — a kernel store through
//! the direct map, a user store through its TLB, a device DMA — gives the
//! writer a private copy and leaves the shared page alone.

mod common;
use common::*;
use monitor::vm::VmState;

/// Guest-physical page the guests read disk pages into.
const BUF: u32 = 0x30_0000;

/// A disk image of 32 sectors, sector `s` filled with the byte `s`.
fn patterned_disk(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("disco-share-{name}-{}.img", std::process::id()));
    let data: Vec<u8> = (0..32u8).flat_map(|s| [s; 512]).collect();
    std::fs::write(&path, data).unwrap();
    path
}

/// Guest code that initialises virtio disk 0 (queue 0 of 8 entries:
/// descriptors at 0x20_0000, rings at 0x20_1000 and 0x20_2000) and makes
/// `requests` requests one after the other, waiting for each. Leaves
/// t1 = kseg0 0x8020_0000 and t3 = the device's registers.
fn disk_requests(requests: usize) -> Vec<u32> {
    let mut g = uncached(T3, 0xf001_0000);
    let store = |g: &mut Vec<u32>, value: u32, reg: i16| {
        g.extend(load32(T0, value));
        g.push(sw(T0, reg, T3));
    };
    store(&mut g, 0, 0x70);
    store(&mut g, 3, 0x70);
    store(&mut g, 1, 0x24);
    store(&mut g, 1, 0x20);
    store(&mut g, 0xb, 0x70);
    store(&mut g, 0, 0x30);
    store(&mut g, 8, 0x38);
    store(&mut g, 0x20_0000, 0x80);
    store(&mut g, 0, 0x84);
    store(&mut g, 0x20_1000, 0x90);
    store(&mut g, 0x20_2000, 0xa0);
    store(&mut g, 1, 0x44);
    store(&mut g, 0xf, 0x70);
    g.extend(load32(T1, 0x8020_0000));
    for k in 1..=requests as u32 {
        // avail.idx = k (flags 0), notify, wait for used.idx == k.
        g.extend(load32(T0, k << 16));
        g.push(sw(T0, 0x1000, T1));
        g.push(sw(ZERO, 0x50, T3));
        g.extend([
            lhu(T0, 0x2002, T1),
            NOP,
            addiu(T2, ZERO, k as i16),
            bne(T0, T2, -4),
            NOP,
        ]);
    }
    g
}

/// Guest memory for [`disk_requests`]: read requests of (sector, buffer,
/// length), in descriptors 3k..3k+2, listed in the available ring.
fn read_requests(reqs: &[(u64, u32, u32)]) -> Vec<(u64, Vec<u32>)> {
    let k0 = |pa: u32| 0xffff_ffff_8000_0000 | u64::from(pa);
    let mut desc = Vec::new();
    let mut ring = vec![0u32]; // flags 0, idx 0 (the guest bumps it)
    let mut segs = Vec::new();
    for (k, &(sector, buf, len)) in reqs.iter().enumerate() {
        let k = k as u32;
        let (header, status) = (0x20_3000 + 0x20 * k, 0x20_5000 + k);
        let d = 3 * k;
        desc.extend([header, 0, 16, 1 | ((d + 1) << 16)]);
        desc.extend([buf, 0, len, 3 | ((d + 2) << 16)]); // WRITE | NEXT
        desc.extend([status, 0, 1, 2]);
        ring.push(d); // ring entries are u16; two per word below
        segs.push((k0(header), vec![0, 0, sector as u32, (sector >> 32) as u32]));
    }
    let words: Vec<u32> = std::iter::once(ring[0])
        .chain(
            ring[1..]
                .chunks(2)
                .map(|c| c[0] | (c.get(1).copied().unwrap_or(0) << 16)),
        )
        .collect();
    segs.push((k0(0x20_0000), desc));
    segs.push((k0(0x20_1000), words));
    segs
}

/// A VM on disk `disk` (copy-on-write) running `code` after `reqs`.
fn guest(
    name: &str,
    disk: &std::path::Path,
    reqs: &[(u64, u32, u32)],
    tail: Vec<u32>,
) -> monitor::vm::VmConfig {
    guest_with(name, disk, reqs, tail, Vec::new())
}

fn guest_with(
    name: &str,
    disk: &std::path::Path,
    reqs: &[(u64, u32, u32)],
    tail: Vec<u32>,
    mut extra: Vec<(u64, Vec<u32>)>,
) -> monitor::vm::VmConfig {
    let mut code = disk_requests(reqs.len());
    code.extend(tail);
    extra.extend(read_requests(reqs));
    let mut config = vm(name, kernel(&code, &extra));
    config.disks = vec![machine::virtio::DiskConfig {
        path: disk.to_path_buf(),
        mode: machine::virtio::DiskMode::CopyOnWrite,
    }];
    config
}

/// t8 = kseg0 address of the buffer page.
fn buffer_address() -> Vec<u32> {
    load32(T8, 0x8000_0000 | BUF)
}

/// Exits with the word at offset `off` of the buffer page.
fn exit_with_word(off: i16) -> Vec<u32> {
    let mut v = buffer_address();
    v.extend([lw(V0, off, T8), NOP]);
    v.extend(exit_with(V0));
    v
}

/// Five VMs on one copy-on-write disk: two read sector 8's page and look;
/// one stores to it through the kernel's direct map; one overwrites part of
/// it by DMA; one stores to it from user mode.
fn scenario(disk: &std::path::Path) -> (machine::Machine, monitor::Monitor) {
    let page = [(8, BUF, 4096)];
    // Kernel store: word 1 := 0x7777, then exit with word 0 | word 1 << 8.
    let mut kstore = buffer_address();
    kstore.extend(load32(T0, 0x7777));
    kstore.extend([sw(T0, 4, T8), lw(V0, 0, T8), lw(T2, 4, T8), NOP]);
    kstore.extend([andi(V0, V0, 0xff), sll(T2, T2, 8), or(V0, V0, T2)]);
    kstore.extend(exit_with(V0));
    // DMA: then sector 0 (zeros) over the first 512 bytes; exit with
    // byte 0 | byte 512 << 8 (sector 9's first byte).
    let mut dma = buffer_address();
    dma.extend([
        lbu(V0, 0, T8),
        lbu(T2, 512, T8),
        NOP,
        sll(T2, T2, 8),
        or(V0, V0, T2),
    ]);
    dma.extend(exit_with(V0));
    // User store: user page 0x40_0000 holds the user code (gpa 0x31_0000),
    // 0x40_1000 is the buffer page, writable; the user code stores 0x55
    // to word 2 and makes a syscall; the handler exits with word 2.
    let (user_va, code_pa, ebase) = (0x40_0000u32, 0x31_0000u32, 0x8010_1000u32);
    let mut user = load32(T0, ebase);
    user.push(mtc0(T0, EBASE.0, EBASE.1));
    user.push(mtc0(0, PAGEMASK, 0));
    user.push(mtc0(0, INDEX, 0));
    user.extend(load32(T0, user_va | 5));
    user.push(dmtc0(T0, ENTRYHI, 0));
    user.extend(load32(T0, ((code_pa >> 12) << 6) | 0x1e));
    user.push(dmtc0(T0, ENTRYLO0, 0));
    user.extend(load32(T0, ((BUF >> 12) << 6) | 0x1e));
    user.push(dmtc0(T0, ENTRYLO1, 0));
    user.push(TLBWI);
    user.extend(load32(T0, user_va));
    user.push(dmtc0(T0, EPC, 0));
    user.extend(load32(T0, 0x20 | 0x10 | 0x2));
    user.push(mtc0(T0, STATUS, 0));
    user.push(ERET);
    user.extend(SPIN);
    let mut user_code = load32(T2, user_va + 0x1000);
    user_code.extend(load32(T0, 0x55));
    user_code.extend([sw(T0, 8, T2), syscall(0), NOP]);
    user_code.extend(SPIN);
    let k0 = |pa: u32| 0xffff_ffff_8000_0000 | u64::from(pa);
    let user_extra = vec![
        (k0(code_pa), user_code),
        (
            u64::from(ebase) as i32 as i64 as u64 + 0x180,
            exit_with_word(8),
        ),
    ];
    let vms = [
        guest("reader", disk, &page, exit_with_word(0)),
        guest("kstore", disk, &page, kstore),
        guest("dma", disk, &[(8, BUF, 4096), (0, BUF, 512)], dma),
        guest_with("ustore", disk, &page, user, user_extra),
        guest("reader2", disk, &page, exit_with_word(12)),
    ];
    let (mut m, mut mon) = start(2, &vms);
    assert!(mon.run_for(&mut m, 400_000_000), "every VM ends");
    (m, mon)
}

#[test]
fn every_write_to_a_shared_disk_page_gets_a_private_copy() {
    let disk = patterned_disk("writes");
    let before = std::fs::read(&disk).unwrap();
    let (m, mon) = scenario(&disk);
    let states: Vec<_> = mon.vms.iter().map(|v| v.state.clone()).collect();
    assert_eq!(
        states,
        vec![
            VmState::Exited(0x0808_0808),
            VmState::Exited(0x0077_7708),
            VmState::Exited(0x0900), // sector 0's zeros, then sector 9
            VmState::Exited(0x55),
            VmState::Exited(0x0808_0808),
        ]
    );
    // One cached page, sector 8's (the 512-byte read was copied, not
    // cached), and it still holds sector 8's data.
    let mem = mon.memory();
    let cached = mem
        .disk_cache
        .lookup(0, 8)
        .expect("sector 8's page is cached");
    assert_eq!(mem.disk_cache.pages(), 1);
    let mut page = vec![0u8; 4096];
    m.mem.read_bytes(cached << 12, &mut page).unwrap();
    let disk_page = &before[8 * 512..16 * 512];
    assert_eq!(&page[..], disk_page, "the shared page was written");
    // One fill, then hits; the three writers each took one copy.
    let s = &mem.sharing;
    assert_eq!(s.iter().map(|s| s.cache_fills).sum::<u64>(), 1);
    assert_eq!(s.iter().map(|s| s.cache_hits).sum::<u64>(), 4);
    assert_eq!(
        s.iter().map(|s| s.cow_faults).collect::<Vec<_>>(),
        vec![0, 1, 1, 1, 0]
    );
    // Readers ended still mapping the shared page; writers did not.
    let shared: Vec<u64> = mon
        .vms
        .iter()
        .map(|v| v.final_footprint.as_ref().unwrap().pages_shared)
        .collect();
    assert_eq!(shared, vec![1, 0, 0, 0, 1]);
    assert_eq!(
        std::fs::read(&disk).unwrap(),
        before,
        "the disk file changed"
    );
    std::fs::remove_file(&disk).unwrap();
}

#[test]
fn sharing_is_deterministic() {
    let disk = patterned_disk("determinism");
    let cycles = |_| {
        let (m, mon) = scenario(&disk);
        let per_vm: Vec<u64> = mon
            .report(&m.mem)
            .vms
            .iter()
            .map(|v| v.total.user_cycles + v.total.kernel_cycles + v.total.monitor_cycles())
            .collect();
        (m.cycles(), per_vm)
    };
    assert_eq!(cycles(0), cycles(1));
    std::fs::remove_file(&disk).unwrap();
}
