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
# Without it: "GUEST UP", then a root shell with job control on the console.
#
# Debian's kernel has virtio as modules: if the device tree has a virtio@<address>
# node (a virtio-mmio device), /init first loads /lib/modules/*.ko in dependency
# order, with kernel messages off; a module that fails to load gives one line on
# stderr and the boot goes on. Without such a node nothing is loaded.

/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=linux PS1='\w \$ '
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null # the kernel may have mounted it

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
load_virtio_modules
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
exec setsid cttyhack sh -l
