# Install steps shared by scripts/demo.sh (what the local provider needs),
# scripts/bootstrap.sh (the test suite's world) and scripts/build-image.sh (its build tools).
# Sourced, not run; Debian 12, as root.

NODE_PREFIX=${NODE_PREFIX:-/opt/node24}

# Installs the Debian packages given (text after a '#' in an argument is ignored) that are not
# installed yet; apt is not touched when nothing is missing.
install_debian_packages() {
  local p missing=()
  for p in "${@%%#*}"; do
    [[ -n $p ]] || continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Node 24 LTS from the npm package node@24 into NODE_PREFIX, leaving the system's node alone.
# A fresh Debian has no npm to fetch it with: then Debian's npm is installed first.
install_node24() {
  if "$NODE_PREFIX/bin/node" --version 2>/dev/null | grep -q '^v24\.'; then
    return 0
  fi
  command -v npm >/dev/null || install_debian_packages npm
  npm install -g --prefix "$NODE_PREFIX" node@24 --allow-scripts=node >/dev/null 2>&1 ||
    npm install -g --prefix "$NODE_PREFIX" node@24
}
