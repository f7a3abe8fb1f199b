#!/bin/bash
# Turns a fresh network namespace into a lab "host". Run as
#   ip netns exec NS unshare --mount --uts --propagation private bash hostinit.sh
# with HW_* variables set by tests/lab/hosts.py. It builds the host's root as a
# copy-on-write overlay of this machine's / (so /etc, /usr, /var, ... are private to the
# host and nothing outside the lab's directory is ever written), puts the host's own
# directories on top, pivots into it and then stays as the "holder": the process whose
# namespaces every later process of the host (sshd, daemons, `nsenter`) joins.
set -euo pipefail
H=$HW_HOST_DIR          # this host's directory in the lab state dir (same path inside)
M=$H/merged             # where the new root is assembled

# Upper layer on a tmpfs of this namespace: the upper dir may not sit below the lower (/).
mount -t tmpfs -o mode=0755 hwlab "$H/cow"
mkdir -p "$H/cow/upper" "$H/cow/work"
mount -t overlay hwlab -o "lowerdir=/,upperdir=$H/cow/upper,workdir=$H/cow/work" "$M"
for d in dev proc sys; do mount --rbind "/$d" "$M/$d"; done

# A fresh /run (no pid files of this machine; hides the lab's keys and other hosts) with
# only this host's directory in it, at the same path as outside.
mount -t tmpfs -o mode=0755 hwlab "$M/run"
mkdir -p "$M/run/sshd" "$M/run/lock" "$M$H"
mount --bind "$H" "$M$H"

# The SSH user's home and /data are directories of the host, kept on disk.
mount --bind "$H/home" "$M/root"
mkdir -p "$M/data"
mount --bind "$H/data" "$M/data"
if [ -n "${HW_REGISTRY_DIR:-}" ]; then
    mkdir -p "$M/data/registry"
    mount --bind "$HW_REGISTRY_DIR" "$M/data/registry"
fi

# Python 2.7 as /usr/bin/python (Harbor 1.4's prepare is a Python 2 script).
if [ -n "${HW_PYTHON2:-}" ]; then
    if [ -n "${HW_PYTHON2_PREFIX:-}" ]; then   # an install under the hidden /root
        mkdir -p "$M$HW_PYTHON2_PREFIX"
        mount --bind -o ro "$HW_PYTHON2_PREFIX" "$M$HW_PYTHON2_PREFIX"
    fi
    ln -sfn "$HW_PYTHON2" "$M/usr/bin/python"
fi

# An empty /usr/local/bin of the host's own (this machine's tools stay out), holding the
# test doubles (systemctl, docker, docker-compose).
mount --bind "$H/usr-local-bin" "$M/usr/local/bin"
for f in ${HW_DOUBLES:-}; do install -m 0755 "$f" "$M/usr/local/bin/"; done

cp "$H/hosts" "$M/etc/hosts"
echo "$HW_HOSTNAME" > "$M/etc/hostname"
hostname "$HW_HOSTNAME"
# sshd without PAM refuses a locked account ("!" in shadow): unlock root in this copy.
sed -i 's/^root:![^:]*:/root:*:/' "$M/etc/shadow"

cd "$M"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
cd /
echo $$ > "$H/holder.pid"
exec sleep infinity
