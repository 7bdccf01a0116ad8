#!/usr/bin/env bash
# Installs everything xdpd needs to build, test and run, from Debian 12's packages.
# Idempotent: installs only what is missing. Run as root.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang llvm
  libbpf-dev libxdp-dev bpftool linux-libc-dev
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libgtest-dev
  # run and test: namespaces, veth, traffic, baselines
  iproute2 iputils-ping ethtool xdp-tools nftables tcpdump hping3 curl
  # observability: the metrics endpoint, the real Prometheus its tests scrape
  # with, and tshark to read back `xdpd capture` files
  libcpp-httplib-dev prometheus tshark
  # xdpd-livebench --sockets: DPDK's testpmd (in dpdk-dev on Debian 12) and
  # the two drivers it runs on a veth (not pulled in without recommends)
  dpdk dpdk-dev librte-net-af-packet23 librte-net-af-xdp23 librte-mempool-ring23
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# XDP programs are pinned in bpffs; make sure it is mounted.
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
  mount -t bpf bpf /sys/fs/bpf
fi
