#!/bin/busybox sh
# /init of the initramfs that disco builds around Debian's busybox-static.
#
# The board passes optional NUL-terminated string properties in /chosen:
#   disco,exec          a shell command to run instead of the interactive shell
#   disco,exit-address  physical address of the disco,power EXIT register, e.g.
#                       "0x1fe00000"; a 32-bit write there ends the simulation
#                       with the written value as exit status
#   disco,command-from-console  (checkpoints) print "@@DISCO-READY@@", then read
#                       one line from the console: the command, base64-encoded,
#                       or an empty line for the interactive shell
# With a command the console shows exactly one line "@@DISCO-EXEC-BEGIN@@", then
# only the command's output; its exit status is then written to EXIT.
# Without it: "GUEST UP", then a root shell with job control on the console;
# `poweroff`, `halt` and `reboot` (busybox's signal PID 1) and leaving the shell
# end the simulation with status 0.
#
# Debian's kernel has virtio as modules: if the device tree has a virtio@<address>
# node (a virtio-mmio device), /init first loads /lib/modules/*.ko in dependency
# order, with kernel messages off; a module that fails to load gives one line on
# stderr and the boot goes on. Without such a node nothing is loaded.
#
# Root disk: with root=/dev/vdX on the kernel command line, /init loads the
# modules listed in /lib/modules/root.order (ext4, overlay; an archive disco
# appends), mounts the disk (read-only disks under a tmpfs overlay, so the
# guest can still write, in memory), and switches root to it, running itself
# again there as PID 1 ("stage2", with this busybox at /run/disco/busybox and
# its applets in /run/disco/bin, after Debian's programs and the workloads'
# driver, /opt/disco/bin/workload, in PATH).

if [ "$1" = stage2 ]; then
	bb=/run/disco/busybox
	$bb --install -s /run/disco/bin
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/disco/bin:/run/disco/bin
	export HOME=/root TERM=linux
	export PS1='\u@\h:\w\$ ' # Debian's prompt
	mount -t tmpfs -o mode=1777 tmpfs /tmp
	mkdir -p /dev/pts /dev/shm
	mount -t devpts devpts /dev/pts
	mount -t tmpfs -o mode=1777 tmpfs /dev/shm
else
	/bin/busybox --install -s
	export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=linux PS1='\w \$ '
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev 2>/dev/null # the kernel may have mounted it
fi

# load_virtio_modules: load the virtio drivers if the board has virtio devices.
load_virtio_modules() {
	set -- /proc/device-tree/virtio@*
	[ -e "$1" ] || return 0 # no match: the pattern itself
	local loglevel m err
	read -r loglevel _ </proc/sys/kernel/printk
	dmesg -n 1
	for m in virtio virtio_ring virtio_mmio virtio_blk failover net_failover virtio_net; do
		err=$(insmod "/lib/modules/$m.ko" 2>&1) ||
			echo "disco: cannot load kernel module $m${err:+ (${err##*: })}" >&2
	done
	dmesg -n "${loglevel:-7}"
}

# root_device: the root= argument of the kernel command line, if any.
root_device() {
	local arg
	for arg in $(cat /proc/cmdline); do
		case $arg in root=/dev/*) echo "${arg#root=}" ;; esac
	done
}

# switch_to_root DEVICE: mount DEVICE and run this script on it as PID 1.
# Returns (after one line on stderr) if that cannot be done.
switch_to_root() {
	local dev=$1 m err i
	for m in $(cat /lib/modules/root.order 2>/dev/null); do
		err=$(insmod "/lib/modules/$m.ko" 2>&1) ||
			echo "disco: cannot load kernel module $m${err:+ (${err##*: })}" >&2
	done
	i=0
	while [ ! -b "$dev" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	mkdir -p /newroot /lower /overlay
	if [ "$(cat "/sys/block/${dev#/dev/}/ro" 2>/dev/null)" = 1 ]; then
		err=$(mount -t ext4 -o ro "$dev" /lower 2>&1) &&
			mount -t tmpfs -o mode=755 tmpfs /overlay &&
			mkdir /overlay/upper /overlay/work &&
			err=$(mount -t overlay overlay \
				-o lowerdir=/lower,upperdir=/overlay/upper,workdir=/overlay/work \
				/newroot 2>&1)
	else
		err=$(mount -t ext4 "$dev" /newroot 2>&1)
	fi || {
		echo "disco: cannot mount the root disk $dev${err:+ (${err##*: })}" >&2
		return 1
	}
	mount -t tmpfs -o mode=755 tmpfs /newroot/run
	mkdir -p /newroot/run/disco/bin /newroot/run/disco/lower /newroot/run/disco/overlay
	cp /bin/busybox /newroot/run/disco/busybox
	cp /init /newroot/run/disco/init
	if grep -q ' /lower ' /proc/mounts; then
		mount --move /lower /newroot/run/disco/lower
		mount --move /overlay /newroot/run/disco/overlay
	fi
	mount --move /proc /newroot/proc
	mount --move /sys /newroot/sys
	mount --move /dev /newroot/dev
	exec switch_root /newroot /run/disco/busybox sh /run/disco/init stage2
}

if [ "$1" != stage2 ]; then
	load_virtio_modules
	root=$(root_device)
	[ -n "$root" ] && switch_to_root "$root"
fi
hostname -F /etc/hostname
cd /

# chosen NAME: print /chosen property NAME without its NUL; fail if absent.
chosen() {
	[ -e "/proc/device-tree/chosen/$1" ] && tr -d '\000' <"/proc/device-tree/chosen/$1"
}

# run_command CMD: run CMD as the session's only job, then end the simulation
# with its exit status (returns if that did not work).
run_command() {
	cmd=$1
	exit_address=$(chosen disco,exit-address)
	read -r loglevel _ </proc/sys/kernel/printk
	dmesg -n 1 # keep kernel messages out of the command's output
	stty -onlcr 2>/dev/null # plain \n line ends
	echo '@@DISCO-EXEC-BEGIN@@'
	sh -c "$cmd"
	status=$?
	[ -n "$exit_address" ] && devmem "$exit_address" 32 "$status"
	# Still running: the simulation did not end.
	stty onlcr 2>/dev/null
	dmesg -n "${loglevel:-7}"
	echo "disco: no exit device (disco,exit-address: ${exit_address:-absent});" \
		"the command exited with status $status" >&2
}

# power_off: sync the disks and end the simulation with status 0.
power_off() {
	sync
	exit_address=$(chosen disco,exit-address)
	[ -n "$exit_address" ] && devmem "$exit_address" 32 0
	poweroff -f
}

# interactive: a root shell with job control on the console; returns when it
# ends. poweroff/halt/reboot signal PID 1 (USR2/USR1/TERM): power off.
interactive() {
	local shell=sh
	[ "$1" = stage2 ] && [ -x /bin/bash ] && shell=bash
	trap power_off USR1 USR2 TERM
	setsid cttyhack "$shell" -l &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		wait "$pid"
	done
}

if [ -e /proc/device-tree/chosen/disco,command-from-console ]; then
	stty -echo 2>/dev/null
	echo '@@DISCO-READY@@'
	read -r line
	stty echo 2>/dev/null
	[ -n "$line" ] && run_command "$(echo "$line" | base64 -d)"
elif [ -e /proc/device-tree/chosen/disco,exec ]; then
	run_command "$(chosen disco,exec)"
fi

echo 'GUEST UP'
interactive "$1"
power_off
