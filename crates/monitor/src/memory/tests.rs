use super::*;
use proptest::prelude::*;

/// Checks the pmap/memmap invariants: every backed guest page's machine
/// page records that page as a user (privately when writable, as a shared
/// user when read-only); no private machine page backs two guest pages;
/// every shared page's users map it read-only; and free plus used memory
/// accounts for all of it.
fn check(mm: &MachineMemory, pmaps: &[Pmap]) {
    let mut private = 0usize;
    for (vm, pmap) in pmaps.iter().enumerate() {
        for (page, e) in pmap.entries() {
            let user = PageUser {
                vm,
                guest_page: page,
            };
            if e.writable() {
                private += 1;
                assert_eq!(mm.memmap.user(e.machine_page), Some(user));
            } else {
                let s = mm
                    .memmap
                    .shared(e.machine_page)
                    .expect("read-only pages are shared");
                assert!(s.users.contains(&user));
            }
        }
    }
    assert_eq!(mm.memmap.private_pages(), private);
    for (page, s) in mm.memmap.shared_pages() {
        for u in &s.users {
            let e = pmaps[u.vm].entry(u.guest_page).expect("users map the page");
            assert_eq!((e.machine_page, e.writable()), (page, false));
        }
    }
    let used = mm.memmap.used_pages() as u64;
    let total = mm.alloc.total_chunks() as u64 * CHUNK_PAGES;
    assert_eq!(
        mm.free_bytes() >> 12,
        total - used,
        "no page lost or counted twice"
    );
}

/// A shared disk-cache page holding `byte`s, as the disk cache makes them.
fn cache_page(mm: &mut MachineMemory, mem: &mut PhysMem, sector: u64, byte: u8) -> u64 {
    let disk = mm.disk_cache.disk(&machine::virtio::DiskIdentity {
        device: 1,
        inode: 2,
        size: 1 << 30,
    });
    assert_eq!(disk, 0);
    let p = mm.alloc_page(mem, 0).unwrap();
    mem.write_bytes(p << 12, &[byte; 4096]).unwrap();
    mm.memmap
        .make_shared(p, SharedKind::DiskCache { disk: 0, sector });
    mm.disk_cache.insert(0, sector, p);
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn pmap_and_memmap_stay_consistent(
        ops in prop::collection::vec((0u8..5, 0usize..3, 0u64..8, 0u64..64), 1..80)
    ) {
        // 3 VMs of 128 MiB on a 2-node, 256 MiB machine: memory runs out.
        let mut mem = PhysMem::new(256 << 20).unwrap();
        let mut mm = MachineMemory::new(256 << 20, 2, |pa| (pa >> 27) as u32);
        let mut pmaps = vec![Pmap::new(128 << 20); 3];
        let disk = mm.disk_cache.disk(&machine::virtio::DiskIdentity { device: 1, inode: 2, size: 1 << 30 });
        prop_assert_eq!(disk, 0);
        for (op, vm, chunk, page) in ops {
            let guest_page = chunk * CHUNK_PAGES + page;
            match op {
                0 => mm.release(vm, &mut pmaps[vm]),
                1 => {
                    let got = mm.back(&mut mem, &mut pmaps[vm], vm, chunk, (vm % 2) as u32);
                    prop_assert_eq!(got.is_ok(), pmaps[vm].is_backed(chunk));
                }
                2 if pmaps[vm].is_backed(chunk) => {
                    // Map the disk page of sector 8·page, as a read would.
                    let sector = page * 8;
                    let m = match mm.disk_cache.lookup(0, sector) {
                        Some(m) => m,
                        None => match mm.alloc_page(&mut mem, 0) {
                            Ok(p) => {
                                mm.memmap.make_shared(p, SharedKind::DiskCache { disk: 0, sector });
                                mm.disk_cache.insert(0, sector, p);
                                p
                            }
                            Err(_) => continue,
                        },
                    };
                    mm.map_shared(&mut pmaps[vm], vm, guest_page, m);
                }
                3 if pmaps[vm].is_backed(chunk) => {
                    let _ = mm.make_private(&mut mem, &mut pmaps[vm], vm, guest_page, 0, page % 2 == 0, "test");
                }
                _ => {
                    mm.evict_unused_cache();
                }
            }
            check(&mm, &pmaps);
        }
        for (vm, pmap) in pmaps.iter_mut().enumerate() {
            mm.release(vm, pmap);
        }
        mm.evict_unused_cache();
        check(&mm, &pmaps);
        prop_assert_eq!(mm.alloc.free_chunks(), mm.alloc.total_chunks(), "every chunk came back whole");
    }
}

#[test]
fn reused_memory_is_zeroed_fresh_memory_is_not_rewritten() {
    let mut mem = PhysMem::new(64 << 20).unwrap();
    let mut mm = MachineMemory::new(64 << 20, 1, |_| 0);
    let mut a = Pmap::new(32 << 20);
    let m = mm.back(&mut mem, &mut a, 0, 0, 0).unwrap().unwrap();
    assert_eq!(mm.zeroed_pages, 0);
    let pa = u64::from(m) * CHUNK_BYTES + 100;
    mem.write_bytes(pa, b"secret").unwrap();
    mm.release(0, &mut a);
    let mut b = Pmap::new(32 << 20);
    // The lowest free chunk comes back first: the one just released.
    assert_eq!(mm.back(&mut mem, &mut b, 1, 0, 0), Ok(Some(m)));
    assert_eq!(mm.zeroed_pages, CHUNK_PAGES);
    let mut buf = [0u8; 6];
    mem.read_bytes(pa, &mut buf).unwrap();
    assert_eq!(buf, [0; 6], "one VM never sees another's data");
}

#[test]
fn a_write_to_a_shared_page_gets_a_private_copy() {
    let (mut mem, mut mm, mut pmaps) = two_vms(32 << 20);
    let shared = cache_page(&mut mm, &mut mem, 16, 0x5a);
    mm.map_shared(&mut pmaps[0], 0, 7, shared);
    mm.map_shared(&mut pmaps[1], 1, 9, shared);
    assert_eq!(mm.memmap.shared(shared).unwrap().users.len(), 2);
    check(&mm, &pmaps);
    // VM 0 writes: it gets a copy with the data; VM 1 still maps the page.
    let (old, new) = mm
        .make_private(&mut mem, &mut pmaps[0], 0, 7, 0, true, "test")
        .unwrap()
        .unwrap();
    assert_eq!(old, shared);
    assert_ne!(new, shared);
    assert_eq!(mem.read_u32(new << 12).unwrap(), 0x5a5a_5a5a);
    assert_eq!(pmaps[1].entry(9).unwrap().machine_page, shared);
    assert_eq!(mm.sharing[0].cow_faults, 1);
    // A private page needs nothing.
    assert_eq!(
        mm.make_private(&mut mem, &mut pmaps[0], 0, 7, 0, true, "test"),
        Ok(None)
    );
    // A device overwriting the page whole gets a fresh page, no copy.
    let (_, fresh) = mm
        .make_private(&mut mem, &mut pmaps[1], 1, 9, 0, false, "test")
        .unwrap()
        .unwrap();
    assert_eq!(mem.read_u32(fresh << 12).unwrap(), 0);
    assert_eq!(mm.sharing[1].cow_replaced, 1);
    check(&mm, &pmaps);
    // The cache keeps the page with no users, until memory is wanted.
    assert_eq!(mm.disk_cache.lookup(0, 16), Some(shared));
    assert_eq!(mm.evict_unused_cache(), 1);
    assert_eq!(mm.disk_cache.lookup(0, 16), None);
    check(&mm, &pmaps);
}

#[test]
fn chunks_are_backed_by_pages_when_no_whole_chunk_is_left() {
    // 64 MiB: 3 chunks after the reserved one.
    let mut mem = PhysMem::new(64 << 20).unwrap();
    let mut mm = MachineMemory::new(64 << 20, 1, |_| 0);
    let mut a = Pmap::new(32 << 20);
    let mut b = Pmap::new(32 << 20);
    mm.back(&mut mem, &mut a, 0, 0, 0).unwrap();
    mm.back(&mut mem, &mut a, 0, 1, 0).unwrap();
    // One page of the last chunk goes to the cache, and VM a maps it:
    // a's own page for it is freed.
    let p = cache_page(&mut mm, &mut mem, 0, 1);
    mm.map_shared(&mut a, 0, 3, p);
    assert_eq!(mm.alloc.free_chunks(), 0);
    // No chunk is whole: VM b's chunk is backed by single pages, split.
    assert_eq!(mm.back(&mut mem, &mut b, 1, 0, 0), Ok(None));
    assert!(b.is_backed(0));
    assert_eq!(b.contiguous_chunk(0), None);
    check(&mm, &[a.clone(), b.clone()]);
    // Nothing is left.
    let mut c = Pmap::new(32 << 20);
    assert_eq!(mm.back(&mut mem, &mut c, 2, 0, 0), Err(OutOfMemory));
    assert!(!c.is_backed(0));
    mm.release(0, &mut a);
    mm.release(1, &mut b);
    mm.evict_unused_cache();
    assert_eq!(mm.alloc.free_chunks(), 3, "every chunk whole again");
}
