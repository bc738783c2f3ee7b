# Sourced by every workflow: the repository's root ($repo), the scratch folder ($scratch,
# the script's first argument or a new mktemp -d folder) and a check that optsched runs.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scratch="${1:-$(mktemp -d)}"
mkdir -p "$scratch"
echo "== scratch folder: $scratch" >&2
command -v optsched >/dev/null || {
    echo "optsched not found: activate its virtualenv or pip install -e \"$repo\"" >&2; exit 127; }
