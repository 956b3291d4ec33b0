#!/usr/bin/env bash
# Checks a test environment started by `node scripts/testenv.js start --state DIR`:
#   libvirt: the private libvirtd answers, and a tiny transient QEMU guest (64 MiB, no disk;
#            KVM when /dev/kvm exists, else TCG) starts, runs and is destroyed; then one whose
#            disk is the open iSCSI LUN (QEMU's libiscsi driver) starts and is destroyed;
#   iscsi:   discovery lists both targets, the open LUN reads back its size and INQUIRY data,
#            CHAP login works (and a wrong password fails), mutual CHAP works (and a wrong
#            target secret fails);
#   ceph:    HEALTH_OK, client.virtkit lists its pool, an image has its size, and the gateway's
#            RBD-backed LUN has the image's exact size over CHAP (and refuses a login without).
# Usage: bash scripts/testenv-smoke.sh DIR     (exit 0 when every check passes)
# CHAP secrets go to the iSCSI tools through LIBISCSI_CHAP_* variables, never on a command
# line or in this script's output.
set -euo pipefail
set +x

dir=${1:?usage: testenv-smoke.sh STATE_DIR}
envfile=$dir/env.json
[ -r "$envfile" ] || { echo "smoke: no $envfile (was the environment started?)" >&2; exit 1; }

# Reads one value from env.json (JSON path as a JavaScript expression on `e`).
val() { node -e 'const e=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); const v=(new Function("e","return "+process.argv[2]))(e); process.stdout.write(v===undefined||v===null?"":String(v))' "$envfile" "$1"; }

pass=0 fail=0
tmpout=$(mktemp)
trap 'rm -f "$tmpout"' EXIT
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }
check() { # check DESCRIPTION COMMAND...: passes when COMMAND exits 0
  local what=$1; shift
  if "$@" >"$tmpout" 2>&1; then ok "$what"; else notok "$what"; sed 's/^/    | /' "$tmpout" | tail -15; fi
}
fails() { # fails DESCRIPTION COMMAND...: passes when COMMAND exits non-zero
  local what=$1; shift
  if "$@" >"$tmpout" 2>&1; then notok "$what"; else ok "$what"; fi
}

# ---- libvirt ---------------------------------------------------------------------------------
skipped=$(val 'e.libvirt && e.libvirt.skipped')
if [ -n "$skipped" ]; then
  echo "ok - libvirt # SKIP $skipped"
else
  uri=$(val e.libvirt.uri)
  type=qemu; [ -e /dev/kvm ] && type=kvm
  name=vk-smoke-$$-$RANDOM
  check "libvirtd answers on $uri" virsh -q -c "$uri" version
  xml=$(mktemp)
  cat >"$xml" <<EOF
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <console type='pty'/>
  </devices>
</domain>
EOF
  t0=$(date +%s%N)
  check "transient $type guest $name starts" virsh -q -c "$uri" create "$xml"
  rm -f "$xml"
  state=$(virsh -q -c "$uri" domstate "$name" 2>&1 || true)
  [ "$state" = running ] && ok "guest is running" || notok "guest is running (state: $state)"
  logfile=$(val e.libvirt.logDir)/qemu/$name.log
  grep -q "qemu-system-x86_64" "$logfile" 2>/dev/null && ok "QEMU log written by virtlogd ($logfile)" || notok "QEMU log at $logfile"
  check "guest destroyed" virsh -q -c "$uri" destroy "$name"
  echo "# guest start+destroy took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  left=$(virsh -q -c "$uri" list --all --name 2>/dev/null | grep -c "^$name\$" || true)
  [ "$left" = 0 ] && ok "transient guest gone" || notok "transient guest gone"

  # A guest whose disk is the open iSCSI LUN, through QEMU's own libiscsi (qemu-block-extra).
  portal=$(val 'e.iscsi && e.iscsi.portal')
  if [ -n "$portal" ]; then
    open=$(val 'e.iscsi.targets.find(t=>!t.chap).iqn')
    xml=$(mktemp)
    cat >"$xml" <<EOF
<domain type='$type'>
  <name>$name-disk</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='iscsi' name='$open/1'><host name='${portal%:*}' port='${portal##*:}'/></source>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
    check "guest with the iSCSI LUN $open/1 as its disk starts" virsh -q -c "$uri" create "$xml"
    rm -f "$xml"
    out=$(virsh -q -c "$uri" domblkinfo "$name-disk" vda 2>&1 || true)
    grep -q "^Capacity: *$(val 'e.iscsi.targets.find(t=>!t.chap).luns[0].sizeBytes')\$" <<<"$out" \
      && ok "its disk has the LUN's capacity" || { notok "its disk has the LUN's capacity"; echo "$out" | sed 's/^/    | /'; }
    check "guest with the iSCSI disk destroyed" virsh -q -c "$uri" destroy "$name-disk"
  fi
fi

# ---- iSCSI -----------------------------------------------------------------------------------
skipped=$(val 'e.iscsi && e.iscsi.skipped')
if [ -n "$skipped" ]; then
  echo "ok - iscsi # SKIP $skipped"
else
  portal=$(val e.iscsi.portal)
  open=$(val 'e.iscsi.targets.find(t=>!t.chap).iqn')
  chap=$(val 'e.iscsi.targets.find(t=>t.chap).iqn')
  user=$(val 'e.iscsi.targets.find(t=>t.chap).chap.username')
  tuser=$(val 'e.iscsi.targets.find(t=>t.chap).mutual.username')
  opensize=$(val 'e.iscsi.targets.find(t=>!t.chap).luns[0].sizeBytes')
  chapsize1=$(val 'e.iscsi.targets.find(t=>t.chap).luns.find(l=>l.lun===1).sizeBytes')
  chapsize2=$(val 'e.iscsi.targets.find(t=>t.chap).luns.find(l=>l.lun===2).sizeBytes')
  vendor=$(val 'e.iscsi.targets.find(t=>!t.chap).luns[0].vendor')
  serial=$(val 'e.iscsi.targets.find(t=>!t.chap).luns[0].serial')
  # Secrets: only in this shell's variables and the iSCSI tools' environment.
  pw=$(val 'e.iscsi.targets.find(t=>t.chap).chap.password')
  tpw=$(val 'e.iscsi.targets.find(t=>t.chap).mutual.password')

  out=$(iscsi-ls "iscsi://$portal" 2>&1 || true)
  { grep -q "Target:$open " <<<"$out" && grep -q "Target:$chap " <<<"$out"; } \
    && ok "discovery on $portal lists $open and $chap" || { notok "discovery on $portal"; echo "$out" | sed 's/^/    | /'; }
  out=$(iscsi-readcapacity16 "iscsi://$portal/$open/1" 2>&1 || true)
  grep -q "^Total size:$opensize\$" <<<"$out" && ok "open LUN 1 is $opensize bytes (no CHAP)" || { notok "open LUN 1 size"; echo "$out" | sed 's/^/    | /'; }
  out=$(iscsi-inq "iscsi://$portal/$open/1" 2>&1 || true)
  grep -q "^Vendor:$vendor" <<<"$out" && ok "open LUN 1 INQUIRY vendor $vendor" || notok "open LUN 1 INQUIRY vendor"
  out=$(iscsi-inq -e 1 -c 128 "iscsi://$portal/$open/1" 2>&1 || true)
  grep -q "$serial" <<<"$out" && ok "open LUN 1 serial $serial" || notok "open LUN 1 serial"
  fails "CHAP target refuses a login without credentials" iscsi-readcapacity16 "iscsi://$portal/$chap/1"
  out=$(LIBISCSI_CHAP_PASSWORD=$pw iscsi-ls -s "iscsi://$user@$portal" 2>&1 || true)
  { grep -q "^Lun:1 .*DIRECT_ACCESS" <<<"$out" && grep -q "^Lun:2 .*DIRECT_ACCESS" <<<"$out"; } \
    && ok "CHAP login as $user lists LUN 1 and 2 of $chap" || { notok "CHAP login as $user"; echo "$out" | sed 's/^/    | /'; }
  out=$(LIBISCSI_CHAP_PASSWORD=$pw iscsi-readcapacity16 "iscsi://$user@$portal/$chap/2" 2>&1 || true)
  grep -q "^Total size:$chapsize2\$" <<<"$out" && ok "CHAP LUN 2 is $chapsize2 bytes" || notok "CHAP LUN 2 size"
  wrong_chap() { LIBISCSI_CHAP_PASSWORD="wrong-$pw" iscsi-readcapacity16 "iscsi://$user@$portal/$chap/1"; }
  fails "CHAP login with a wrong password fails" wrong_chap
  out=$(LIBISCSI_CHAP_PASSWORD=$pw LIBISCSI_CHAP_TARGET_USERNAME=$tuser LIBISCSI_CHAP_TARGET_PASSWORD=$tpw \
    iscsi-readcapacity16 "iscsi://$user@$portal/$chap/1" 2>&1 || true)
  grep -q "^Total size:$chapsize1\$" <<<"$out" && ok "mutual CHAP ($user / $tuser): LUN 1 is $chapsize1 bytes" || { notok "mutual CHAP login"; echo "$out" | sed 's/^/    | /'; }
  wrong_mutual() {
    LIBISCSI_CHAP_PASSWORD=$pw LIBISCSI_CHAP_TARGET_USERNAME=$tuser LIBISCSI_CHAP_TARGET_PASSWORD="wrong-$tpw" \
      iscsi-readcapacity16 "iscsi://$user@$portal/$chap/1"
  }
  fails "mutual CHAP with a wrong target secret fails" wrong_mutual
  unset pw tpw
fi

# ---- Ceph ------------------------------------------------------------------------------------
skipped=$(val 'e.ceph ? e.ceph.skipped : "env.json has no ceph part"')
if [ -n "$skipped" ]; then
  echo "ok - ceph # SKIP $skipped"
else
  conf=$(val e.ceph.conf)
  cpool=$(val e.ceph.pool)
  cuser=$(val e.ceph.user)
  out=$(timeout 30 ceph -c "$conf" --id admin health 2>&1 || true)
  [ "$out" = HEALTH_OK ] && ok "ceph health: HEALTH_OK" || { notok "ceph health"; echo "$out" | sed 's/^/    | /'; }
  check "client.$cuser lists pool $cpool (rbd ls)" timeout 30 rbd -c "$conf" --id "$cuser" ls "$cpool"
  img=$(val 'e.ceph.images[0].image')
  imgsize=$(val 'e.ceph.images[0].sizeBytes')
  out=$(timeout 30 rbd -c "$conf" --id "$cuser" info "$img" --format json 2>&1 || true)
  grep -q "\"size\":$imgsize," <<<"$out" && ok "rbd info $img: $imgsize bytes" || { notok "rbd info $img"; echo "$out" | sed 's/^/    | /'; }
  gskipped=$(val 'e.ceph.iscsi.skipped')
  if [ -n "$gskipped" ]; then
    echo "ok - ceph gateway # SKIP $gskipped"
  else
    gportal=$(val e.ceph.iscsi.portal)
    giqn=$(val 'e.ceph.iscsi.targets[0].iqn')
    guser=$(val 'e.ceph.iscsi.targets[0].chap.username')
    glun=$(val 'e.ceph.iscsi.targets[0].luns[0].lun')
    gsize=$(val 'e.ceph.iscsi.targets[0].luns[0].sizeBytes')
    gpw=$(val 'e.ceph.iscsi.targets[0].chap.password')
    # READ CAPACITY 16: the exact size. (iscsi-ls -s prints 63M for this 64 MiB LUN: it
    # multiplies the last LBA, not the block count, and rounds down.)
    out=$(LIBISCSI_CHAP_PASSWORD=$gpw timeout 30 iscsi-readcapacity16 "iscsi://$guser@$gportal/$giqn/$glun" 2>&1 || true)
    grep -q "^Total size:$gsize\$" <<<"$out" && ok "gateway LUN $glun ($img behind tgtd, CHAP) is $gsize bytes" || { notok "gateway LUN $glun size"; echo "$out" | sed 's/^/    | /'; }
    fails "gateway target refuses a login without CHAP" timeout 30 iscsi-readcapacity16 "iscsi://$gportal/$giqn/$glun"
    unset gpw
  fi
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
