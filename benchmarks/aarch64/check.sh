#!/usr/bin/env bash
# edge_bml on aarch64, emulated: install the runtime from aarch64 wheels in an arm64 Debian root (QEMU user
# mode), run `edge-bml pose` and `edge-bml look` there and on this x86 machine with the same options, models
# and catalog, and compare (issue #19). Writes benchmarks/results/aarch64_emulated.json.
#
# Needs root (debootstrap, chroot, mount) on a Debian/Ubuntu x86-64 host, and the data folder.
#
#   sudo benchmarks/aarch64/check.sh
#
# Settings (environment):
#   EDGE_BML_AARCH64_ROOT   the arm64 Debian root, made once and reused (~/.cache/edge_bml/aarch64-root)
#   EDGE_BML_AARCH64_CACHE  catalogs, runs, logs (~/.cache/edge_bml/aarch64)
#   EDGE_BML_DATA           the data folder (ccp/, clothing/); default ../shared/data beside the checkout
#   DEBIAN_MIRROR           default: the Debian mirror this machine's apt uses
#   BACKENDS                "litert" (the Pi's runtime); also "onnxruntime openvino" (written after each)
#   PHOTOS                  CCP val photos per backend (12)
#   ITEMS_EVERY             catalog: every Nth product of clothing/items.csv (17: 300 products)
#   QEMU_CPU                the emulated CPU (cortex-a76, the Raspberry Pi 5's core; "max" for all features)
#   PIN_X86_VERSIONS        1: install the same package versions as this checkout's .venv (default); 0: newest
#   REINSTALL               1: recreate the venv in the root
#   FRESH                   1: forget earlier runs (otherwise a rerun of the same tree and options resumes)
#   HOST_PYTHON             the x86 venv's python (.venv/bin/python of the checkout)
#   POSE_PRECISION          the pose stage's precision on both machines (fp32: BlazePose's FP32 variants beside
#                           the INT8 detector and embedder; int8: the INT8 BlazePose, whose float layers
#                           between int8 ones round differently on ARM)
#   STAGE_PROBE             1: also run every model on the same real inputs on both machines (minutes); 0: skip
#   RESULT                  where the result goes (benchmarks/results/aarch64_emulated.json)
#   INPUT_HASHES            where the aarch64 hashes of every model input go, for tests/test_exact_inputs.py
#                           (benchmarks/results/aarch64_input_hashes.json; written by the stage probe)
#
# Exit status: 0 when x86 and aarch64 gave the same results (same_as_x86, and identical model inputs where the
# stage probe ran); 3 when they differ; 1 when a step failed (its name, command and the reason are printed).
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$REPO/benchmarks/aarch64"
ROOT=${EDGE_BML_AARCH64_ROOT:-$HOME/.cache/edge_bml/aarch64-root}
CACHE=${EDGE_BML_AARCH64_CACHE:-$HOME/.cache/edge_bml/aarch64}
DATA=${EDGE_BML_DATA:-$REPO/../shared/data}
BACKENDS=${BACKENDS:-litert}
PHOTOS=${PHOTOS:-12}
ITEMS_EVERY=${ITEMS_EVERY:-17}
QEMU_CPU=${QEMU_CPU:-cortex-a76}
PIN_X86_VERSIONS=${PIN_X86_VERSIONS:-1}
REINSTALL=${REINSTALL:-0}
FRESH=${FRESH:-0}
HOST_PYTHON=${HOST_PYTHON:-$REPO/.venv/bin/python}
unset PYTHONPATH EDGE_BML_MODELS
RESULT=${RESULT:-$REPO/benchmarks/results/aarch64_emulated.json}
INPUT_HASHES=${INPUT_HASHES:-$REPO/benchmarks/results/aarch64_input_hashes.json}
SUITE=bookworm
PRECISION=int8
POSE_PRECISION=${POSE_PRECISION:-fp32}
STAGE_PROBE=${STAGE_PROBE:-1}
THREADS=1
VENV=/opt/edge_bml/venv          # inside the root
ARM_RUNS=/opt/edge_bml/runs      # inside the root
export QEMU_CPU

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
STEP="0/8 settings and needs"
log() { STEP=$*; printf '\n[%s] == %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
info() { printf '[%s]    %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[%s] !! step "%s" failed: %s\n' "$(date +%H:%M:%S)" "$STEP" "$*" >&2; exit 1; }
# Any command that fails under set -e says where, instead of ending the run without a word.
on_error() {
    [[ $BASHPID == "$$" ]] || return 0  # a command substitution's own failures are its caller's to judge
    printf '[%s] !! step "%s" failed: line %s: `%s` exited with %s\n' "$(date +%H:%M:%S)" "$STEP" "$2" "$3" "$1" >&2
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR
run_logged() {  # run_logged LOG CMD...: CMD's stderr to LOG; on failure its tail and the log's path
    local log_file=$1
    shift
    if ! "$@" 2>"$log_file"; then
        tail -15 "$log_file" >&2
        die "$(basename "$1") failed (stderr above, all of it in $log_file)"
    fi
}

[[ $EUID -eq 0 ]] || die "run as root: debootstrap, chroot and mount need it"
[[ -x $HOST_PYTHON ]] || die "no x86 venv at $HOST_PYTHON (python3 -m venv .venv && .venv/bin/pip install -e .)"
# count_macs.py reads the ONNX variants with onnx, which the runtime install (pip install -e .) does not bring.
"$HOST_PYTHON" -c "import onnx" 2>/dev/null ||
    die "the x86 venv ($HOST_PYTHON) has no onnx, which count_macs.py needs: $HOST_PYTHON -m pip install onnx (or -e '.[convert]')"
command -v chroot >/dev/null && command -v mount >/dev/null || die "chroot and mount are needed (coreutils, mount)"
HOST_BML="$(dirname "$HOST_PYTHON")/edge-bml"
[[ -d $DATA/ccp && -d $DATA/clothing ]] || die "no data folder at $DATA (set EDGE_BML_DATA)"
DATA=$(realpath "$DATA")
[[ $DATA/ != "$REPO"/* ]] || die "the data folder must not sit inside the checkout ($DATA)"
ROOT=$(realpath -m "$ROOT")
CACHE=$(realpath -m "$CACHE")
mkdir -p "$CACHE"
RUNS="$CACHE/runs"

# ---------------------------------------------------------------------------------------------------------
log "1/8 host tools: debootstrap, qemu-user-static, binfmt-support"
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
[[ -x /usr/bin/qemu-aarch64-static ]] || missing+=(qemu-user-static)
command -v update-binfmts >/dev/null || missing+=(binfmt-support)
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them: install them first"
    info "installing ${missing[*]} (apt-get)"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static \
        binfmt-support debootstrap; } >"$CACHE/apt.log" 2>&1; then
        tail -10 "$CACHE/apt.log" >&2
        die "could not install ${missing[*]} with apt-get ($CACHE/apt.log): install qemu-user-static, binfmt-support and debootstrap"
    fi
fi
EMULATOR=$(/usr/bin/qemu-aarch64-static --version | head -1)
info "$EMULATOR, QEMU_CPU=$QEMU_CPU"

log "2/8 binfmt_misc: aarch64 binaries run through qemu-aarch64-static"
if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    info "mounting binfmt_misc"
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
        die "cannot mount binfmt_misc (a container without the privilege?): aarch64 binaries cannot run here"
fi
if ! grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    update-binfmts --enable qemu-aarch64 || update-binfmts --import qemu-aarch64
fi
grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
    die "qemu-aarch64 is not registered in binfmt_misc (update-binfmts --enable qemu-aarch64 failed)"
info "$(tr '\n' ' ' </proc/sys/fs/binfmt_misc/qemu-aarch64)"

# ---------------------------------------------------------------------------------------------------------
log "3/8 arm64 Debian $SUITE root at $ROOT"
detect_mirror() {
    {
        grep -hE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
        grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}'
    } | grep -E '/debian/?$' | head -1
}
MIRROR=${DEBIAN_MIRROR:-$(detect_mirror || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
if [[ -f $ROOT/.edge_bml_root_ok ]]; then
    info "reusing it ($(cat "$ROOT/.edge_bml_root_ok"))"
else
    info "mirror $MIRROR (from this machine's apt sources); first stage (--foreign), then the second under qemu"
    partial="$ROOT.partial"
    [[ $partial == */aarch64-root.partial || $partial == *.partial ]] || die "odd root path $partial"
    if mountpoint -q "$partial/proc" 2>/dev/null || grep -qs " $partial/" /proc/mounts; then
        die "$partial has mounts; unmount them first"
    fi
    rm -rf "$partial"
    mkdir -p "$partial"
    root_start=$(date +%s.%N)
    run_logged "$CACHE/debootstrap.log" debootstrap --arch=arm64 --foreign --variant=minbase \
        --include=python3,python3-venv,python3-pip,ca-certificates "$SUITE" "$partial" "$MIRROR"
    cp /usr/bin/qemu-aarch64-static "$partial/usr/bin/"
    if ! chroot "$partial" /debootstrap/debootstrap --second-stage >"$CACHE/debootstrap2.log" 2>&1; then
        tail -15 "$CACHE/debootstrap2.log" "$partial/debootstrap/debootstrap.log" >&2 || true
        die "debootstrap's second stage (under qemu) failed: $CACHE/debootstrap2.log"
    fi
    info "root built in $(elapsed "$root_start") s"
    mv "$partial" "$ROOT"
    echo "debian $(cat "$ROOT/etc/debian_version") arm64 from $MIRROR, $(date -u +%FT%TZ)" >"$ROOT/.edge_bml_root_ok"
fi
DEBIAN_RELEASE="Debian $(cat "$ROOT/etc/debian_version") ($SUITE) arm64"
[[ -x $ROOT/usr/bin/qemu-aarch64-static ]] || cp /usr/bin/qemu-aarch64-static "$ROOT/usr/bin/"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# pip in the root trusts what pip here trusts (a TLS-inspecting proxy's CA, where there is one).
mkdir -p "$ROOT/opt/edge_bml"
cp "${PIP_CERT:-${REQUESTS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}}" "$ROOT/opt/edge_bml/host-ca.crt"

# Mounts: /proc, /dev, /sys, and the data folder read-only at the same absolute path (catalogs and results
# name photos by absolute path, so both machines see the same names). Always undone on exit.
MOUNTS=()
cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() {  # bind SRC DST [ro]
    mkdir -p "$2"
    mountpoint -q "$2" && umount -l "$2"
    mount --bind "$1" "$2"
    MOUNTS+=("$2")
    if [[ ${3:-} == ro ]]; then mount -o remount,bind,ro "$2"; fi
}
mountpoint -q "$ROOT/proc" || { mount -t proc proc "$ROOT/proc"; MOUNTS+=("$ROOT/proc"); }
# QEMU user mode shows the host's (x86) /proc/cpuinfo; onnxruntime's import segfaults on it (cpuinfo parses it
# as ARM). Show the emulated CPU's instead: the Raspberry Pi 5's Cortex-A76 unless QEMU_CPU says otherwise.
case $QEMU_CPU in
    cortex-a72) cpu_part=0xd08 cpu_variant=0x0 cpu_features="fp asimd evtstrm crc32 cpuid" ;;
    neoverse-n1) cpu_part=0xd0c cpu_variant=0x3 cpu_features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
    *) cpu_part=0xd0b cpu_variant=0x4 cpu_features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
esac
for ((i = 0; i < $(nproc); i++)); do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\n' "$i" "$cpu_features"
    printf 'CPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: 1\n\n' "$cpu_variant" "$cpu_part"
done >"$ROOT/opt/edge_bml/cpuinfo"
mount --bind "$ROOT/opt/edge_bml/cpuinfo" "$ROOT/proc/cpuinfo"
MOUNTS+=("$ROOT/proc/cpuinfo")
bind /dev "$ROOT/dev"
[[ -d /dev/shm ]] && bind /dev/shm "$ROOT/dev/shm"
bind /sys "$ROOT/sys" ro
bind "$DATA" "$ROOT$DATA" ro

in_root() {  # run a command in the root with a clean environment
    chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH="$VENV/bin:/usr/local/bin:/usr/bin:/bin" \
        QEMU_CPU="$QEMU_CPU" EDGE_BML_DATA="$DATA" PIP_DISABLE_PIP_VERSION_CHECK=1 \
        PIP_CERT=/opt/edge_bml/host-ca.crt "$@"
}
info "$(in_root /usr/bin/uname -m) $(in_root /usr/bin/python3 --version), $DEBIAN_RELEASE"

# ---------------------------------------------------------------------------------------------------------
log "4/8 the checkout (tracked and untracked-unignored files, plus quantized_models/) into the root"
[[ -n $ROOT && -d $ROOT/etc ]] || die "no root at $ROOT"
rm -rf "${ROOT:?}$REPO"
mkdir -p "$ROOT$REPO"
(
    cd "$REPO"
    {
        git ls-files -z --cached --others --exclude-standard
        find quantized_models -type f ! -path '*/__pycache__/*' -print0
    } | tar --null --ignore-failed-read -T - -cf - 2>/dev/null
) | tar -C "$ROOT$REPO" -xf -
info "$(du -sh "$ROOT$REPO" | cut -f1) copied to $REPO inside the root"
# Both machines run this snapshot: x86 too imports edge_bml (and so its models) from it, so that models or
# code changed in the checkout during the run cannot make the two machines run different things.
SNAP="$ROOT$REPO"
SNAP_TIME=$(date -u +%FT%TZ)
export PYTHONPATH="$SNAP"
(cd / && "$HOST_PYTHON" -c "import edge_bml, sys; sys.exit(not edge_bml.__file__.startswith('$SNAP/'))") ||
    die "x86 does not import edge_bml from the snapshot $SNAP"

# ---------------------------------------------------------------------------------------------------------
log "5/8 venv in the root: pip install -e . (runtime only), aarch64 wheels only"
mkdir -p "$ROOT/opt/edge_bml"
if [[ $PIN_X86_VERSIONS == 1 ]]; then
    "$HOST_PYTHON" -m pip freeze --exclude-editable 2>/dev/null | grep -E '^[A-Za-z0-9_.-]+==' >"$ROOT/opt/edge_bml/constraints.txt"
else
    : >"$ROOT/opt/edge_bml/constraints.txt"
fi
stamp=$(cat "$REPO/pyproject.toml" "$ROOT/opt/edge_bml/constraints.txt" | sha256sum | cut -c1-16)
if [[ $REINSTALL == 1 || ! -x $ROOT$VENV/bin/python || $(cat "$ROOT$VENV/.edge_bml_stamp" 2>/dev/null) != "$stamp" ]]; then
    rm -rf "${ROOT:?}$VENV"
    info "python3 -m venv $VENV (emulated: slow)"
    in_root /usr/bin/python3 -m venv "$VENV"
    info "pip install --only-binary=:all: -e . (constraints: PIN_X86_VERSIONS=$PIN_X86_VERSIONS); minutes under emulation"
    if ! in_root "$VENV/bin/pip" install --progress-bar off --only-binary=:all: \
        -c /opt/edge_bml/constraints.txt -e "$REPO" >"$CACHE/pip_install_aarch64.log" 2>&1; then
        tail -20 "$CACHE/pip_install_aarch64.log" >&2
        die "pip install failed: $CACHE/pip_install_aarch64.log (PIN_X86_VERSIONS=0 takes the newest versions)"
    fi
    grep -E '^(Building|Successfully)' "$CACHE/pip_install_aarch64.log" | sed 's/^/             /' >&2 || true
    echo "$stamp" >"$ROOT$VENV/.edge_bml_stamp"
else
    info "reusing $VENV (same pyproject.toml and constraints; the editable install points at $REPO in the root)"
fi
in_root "$VENV/bin/python" -c "import edge_bml, onnxruntime, openvino, usearch, cv2, ai_edge_litert; print('imports ok')" >&2

# ---------------------------------------------------------------------------------------------------------
log "6/8 catalogs, built once on x86 (every ${ITEMS_EVERY}th product of clothing/items.csv), used on both"
awk -F, -v every="$ITEMS_EVERY" 'NR == 1 || (NR - 2) % every == 0' "$DATA/clothing/items.csv" >"$CACHE/items_subset.csv.new"
if ! cmp -s "$CACHE/items_subset.csv.new" "$CACHE/items_subset.csv"; then
    mv "$CACHE/items_subset.csv.new" "$CACHE/items_subset.csv"
    rm -rf "$CACHE/catalogs"
else
    rm -f "$CACHE/items_subset.csv.new"
fi
embedder_for() {  # the INT8 embedder each backend runs (the catalog pins it)
    case $1 in
        litert) echo embedder_triplet_int8_tflite ;;
        onnxruntime) echo embedder_triplet_int8_onnx ;;
        openvino) echo embedder_triplet_int8_openvino ;;
        *) die "unknown backend $1" ;;
    esac
}
for backend in $BACKENDS; do
    embedder=$(embedder_for "$backend")
    catalog="$CACHE/catalogs/$embedder"
    want=$( (
        sha256sum "$SNAP/quantized_models/$embedder"/*
        cd "$SNAP" && find edge_bml -name '*.py' -print0 | sort -z | xargs -0 sha256sum
    ) | sha256sum | cut -c1-16)
    if [[ -f $catalog/catalog.json && $(cat "$catalog/.edge_bml_models" 2>/dev/null) == "$want" ]]; then
        info "reusing $catalog"
        continue
    fi
    info "building $catalog with $embedder ($(($(wc -l <"$CACHE/items_subset.csv") - 1)) products)"
    rm -rf "$catalog"
    "$HOST_BML" catalog build --images "$DATA/clothing" --items "$CACHE/items_subset.csv" \
        --embedder "$embedder" --threads 1 --out "$catalog" 2>"$CACHE/catalog_$embedder.log" >&2
    echo "$want" >"$catalog/.edge_bml_models"
done
rm -rf "${ROOT:?}$CACHE/catalogs"
mkdir -p "$ROOT$CACHE"
cp -a "$CACHE/catalogs" "$ROOT$CACHE/catalogs"

mapfile -t photo_list < <("$HOST_PYTHON" -c "
import json, sys
root = sys.argv[1]
images = json.load(open(root + '/ccp/annotations.json'))['images']
for image in [i for i in images if i['split'] == 'val'][: int(sys.argv[2])]:
    print(root + '/ccp/' + image['file'])" "$DATA" "$PHOTOS")
info "${#photo_list[@]} CCP val photos: $(for p in "${photo_list[@]}"; do basename "$p"; done | tr '\n' ' ')"

# A run key: the runtime's code and models, the catalogs, the options and the photos. Earlier results of the
# same key are kept (a rerun resumes); anything else in the checkout may change meanwhile.
run_key=$( (
    cd "$SNAP"
    find edge_bml quantized_models pyproject.toml -type f ! -path '*/__pycache__/*' -print0 | sort -z |
        xargs -0 sha256sum
    cat "$CACHE"/catalogs/*/.edge_bml_models
    echo "$QEMU_CPU $PRECISION $POSE_PRECISION $THREADS $ITEMS_EVERY ${photo_list[*]} $PIN_X86_VERSIONS"
) | sha256sum | cut -c1-16)
if [[ $FRESH == 1 || $(cat "$RUNS/key" 2>/dev/null) != "$run_key" ]]; then
    rm -rf "$RUNS" "${ROOT:?}$ARM_RUNS"
fi
mkdir -p "$RUNS/x86" "$RUNS/aarch64" "$ROOT$ARM_RUNS"
echo "$run_key" >"$RUNS/key"

flags_for() {  # flags_for BACKEND KIND: the same options on both machines
    local pose_backend=$1
    [[ $1 == onnxruntime ]] && pose_backend=litert  # BlazePose has no ONNX variant
    if [[ $2 == pose ]]; then
        echo "--backend $pose_backend --precision $POSE_PRECISION --threads $THREADS"
    else
        echo "--backend $1 --precision $PRECISION --threads $THREADS --stage pose=$pose_backend:$POSE_PRECISION:$THREADS"
    fi
}
has_pose() { [[ $1 != onnxruntime ]]; }  # BlazePose has no ONNX variant

# ---------------------------------------------------------------------------------------------------------
log "7/8 runs: x86 here, aarch64 in the root (emulated), then the comparison after each backend"
run_logged "$CACHE/env_info_x86.err" "$HOST_PYTHON" "$HERE/env_info.py" --out "$RUNS/x86/meta.json"
run_logged "$CACHE/env_info_aarch64.err" in_root "$VENV/bin/python" "$REPO/benchmarks/aarch64/env_info.py" \
    --out "$ARM_RUNS/meta.json" --extra "emulator=$EMULATOR" --extra "qemu_cpu=$QEMU_CPU" --extra "debian=$DEBIAN_RELEASE"
cp "$ROOT$ARM_RUNS/meta.json" "$RUNS/aarch64/meta.json"

articles_per_look=4
compare() {
    run_logged "$CACHE/macs.err" "$HOST_PYTHON" "$HERE/count_macs.py" "$SNAP/quantized_models" \
        --articles "$articles_per_look" --json "$CACHE/macs.json" >"$CACHE/macs.txt"
    run_logged "$CACHE/compare.err" "$HOST_PYTHON" "$HERE/compare.py" --x86 "$RUNS/x86" --arm "$RUNS/aarch64" --out "$RESULT" \
        --backends "$(echo "$BACKENDS" | tr ' ' ',')" --macs "$CACHE/macs.json" \
        --info "emulator=$EMULATOR (user mode, binfmt_misc), QEMU_CPU=$QEMU_CPU" --info "debian=$DEBIAN_RELEASE" \
        --info "options=--precision $PRECISION --threads $THREADS, pose stage at $POSE_PRECISION; catalog: $(($(wc -l <"$CACHE/items_subset.csv") - 1)) clothing products (every ${ITEMS_EVERY}th), built on x86" \
        --info "proc_cpuinfo=written by check.sh for QEMU_CPU=$QEMU_CPU (ARM part $cpu_part, features: $cpu_features)" \
        --info "script=benchmarks/aarch64/check.sh" \
        --info "snapshot=both machines ran edge_bml and quantized_models/ as copied at $SNAP_TIME (run key $run_key)" \

}

for backend in $BACKENDS; do
    catalog="$CACHE/catalogs/$(embedder_for "$backend")"
    kinds=(look)
    has_pose "$backend" && kinds=(pose look)
    for kind in "${kinds[@]}"; do
        read -r -a flags <<<"$(flags_for "$backend" "$kind")"
        args=("$kind" --json "${flags[@]}")
        [[ $kind == look ]] && args+=(--catalog "$catalog")
        out="$RUNS/x86/${backend}_$kind"
        if [[ ! -s $out.jsonl ]]; then
            info "x86: edge-bml ${args[*]} <${#photo_list[@]} photos>"
            start=$(date +%s.%N)
            "$HOST_BML" "${args[@]}" "${photo_list[@]}" >"$out.jsonl" 2>"$out.err"
            info "x86 $backend $kind: $(wc -l <"$out.jsonl") results, $(elapsed "$start") s"
        fi
        arm_out="$ARM_RUNS/${backend}_$kind"
        if [[ ! -s $RUNS/aarch64/${backend}_$kind.jsonl ]]; then
            info "aarch64 (emulated): edge-bml ${args[*]} <${#photo_list[@]} photos>"
            start=$(date +%s.%N)
            if ! in_root "$VENV/bin/edge-bml" "${args[@]}" "${photo_list[@]}" >"$ROOT$arm_out.jsonl" 2>"$ROOT$arm_out.err"; then
                tail -5 "$ROOT$arm_out.err" >&2
                die "aarch64 $backend $kind failed: $ROOT$arm_out.err"
            fi
            seconds=$(elapsed "$start")
            cp "$ROOT$arm_out.err" "$RUNS/aarch64/${backend}_$kind.err"
            cp "$ROOT$arm_out.jsonl" "$RUNS/aarch64/${backend}_$kind.jsonl"
            echo "$seconds" >"$RUNS/aarch64/${backend}_$kind.seconds_emulated"
            info "aarch64 $backend $kind: $(wc -l <"$RUNS/aarch64/${backend}_$kind.jsonl") results, ${seconds} s (emulated)"
            grep -h "XNNPACK" "$RUNS/aarch64/${backend}_$kind.err" | sort | uniq -c | sed 's/^/             /' >&2 || true
        fi
    done
    if [[ $backend == litert ]]; then
        articles_per_look=$("$HOST_PYTHON" -c "
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
print(round(sum(len(r.get('articles', [])) for r in rows) / max(len(rows), 1), 2))" "$RUNS/x86/litert_look.jsonl")
        if [[ ! -s $RUNS/aarch64/probe.json ]]; then
            log "LiteRT: which ops XNNPACK takes, in which types (x86 and aarch64)"
            "$HOST_PYTHON" "$HERE/litert_probe.py" "$SNAP/quantized_models" --out "$RUNS/x86/probe.json" \
                --outputs "$RUNS/x86/probe_outputs" 2>"$RUNS/x86/probe.err"
            in_root "$VENV/bin/python" "$REPO/benchmarks/aarch64/litert_probe.py" "$REPO/quantized_models" \
                --out "$ARM_RUNS/probe.json" --outputs "$ARM_RUNS/probe_outputs" 2>"$ROOT$ARM_RUNS/probe.err"
            cp -a "$ROOT$ARM_RUNS/probe_outputs" "$ROOT$ARM_RUNS/probe.err" "$RUNS/aarch64/"
            cp "$ROOT$ARM_RUNS/probe.json" "$RUNS/aarch64/probe.json"
        fi
    fi
    log "compare after $backend"
    compare
done

if [[ $STAGE_PROBE == 1 && ! -s $RUNS/aarch64/stage_outputs/inputs.json ]]; then
    log "every model on the same real inputs (2 photos, fixed boxes): where do the machines differ?"
    run_logged "$RUNS/x86/stage_probe.err" "$HOST_PYTHON" "$HERE/stage_probe.py" \
        --annotations "$DATA/ccp/annotations.json" --photos 2 --out "$RUNS/x86/stage_outputs" \
        --hashes-out "$RUNS/x86/input_hashes.json" --hash-photos 3
    start=$(date +%s.%N)
    run_logged "$ROOT$ARM_RUNS/stage_probe.err" in_root "$VENV/bin/python" "$REPO/benchmarks/aarch64/stage_probe.py" \
        --annotations "$DATA/ccp/annotations.json" --photos 2 --out "$ARM_RUNS/stage_outputs" \
        --hashes-out "$ARM_RUNS/input_hashes.json" --hash-photos 3
    info "aarch64 stage probe: $(elapsed "$start") s (emulated)"
    cp -a "$ROOT$ARM_RUNS/stage_outputs" "$ROOT$ARM_RUNS/stage_probe.err" "$ROOT$ARM_RUNS/input_hashes.json" "$RUNS/aarch64/"
    compare
fi
if [[ -s $RUNS/aarch64/input_hashes.json ]]; then
    # The reference tests/test_exact_inputs.py checks x86 against: the aarch64 machine's hashes of every input.
    cp "$RUNS/aarch64/input_hashes.json" "$INPUT_HASHES"
    info "aarch64 input hashes written to $INPUT_HASHES"
fi

if [[ " $BACKENDS " == *" openvino "* && ! -s $RUNS/aarch64/openvino_probe.json ]]; then
    log "OpenVINO: the kernels and precisions its CPU plugin picks for the INT8 variants (x86 and aarch64)"
    "$HOST_PYTHON" "$HERE/openvino_probe.py" "$SNAP/quantized_models" --out "$RUNS/x86/openvino_probe.json"
    in_root "$VENV/bin/python" "$REPO/benchmarks/aarch64/openvino_probe.py" "$REPO/quantized_models" \
        --out "$ARM_RUNS/openvino_probe.json"
    cp "$ROOT$ARM_RUNS/openvino_probe.json" "$RUNS/aarch64/openvino_probe.json"
    compare
fi

# ---------------------------------------------------------------------------------------------------------
log "8/8 done: $RESULT"
"$HOST_PYTHON" - "$RESULT" <<'EOF' >&2
import json, sys
r = json.load(open(sys.argv[1]))
print(f"looks={r['looks']} backends={r['backends']} same_as_x86={r['same_as_x86']} differences={len(r['differences'])}")
for d in r["differences"][:20]:
    print("  -", d)
EOF
cat "$CACHE/macs.txt" >&2
STEP="8/8 verdict"
"$HOST_PYTHON" - "$RESULT" "$RUNS/x86/input_hashes.json" "$RUNS/aarch64/input_hashes.json" <<'EOF' || exit 3
import json, os, sys
r = json.load(open(sys.argv[1]))
probe = r.get("models_on_same_real_inputs") or {}
hashes = [json.load(open(p))["photos"] for p in sys.argv[2:] if os.path.exists(p)]
hashes_equal = hashes[0] == hashes[1] if len(hashes) == 2 else "not compared (STAGE_PROBE=0)"
same = r["same_as_x86"] and probe.get("inputs_identical", True) and hashes_equal is not False
print(f"verdict: {'same' if same else 'DIFFERENT'} (same_as_x86={r['same_as_x86']}, "
      f"inputs_identical={probe.get('inputs_identical')}, input hashes equal={hashes_equal})", file=sys.stderr)
sys.exit(0 if same else 1)
EOF
