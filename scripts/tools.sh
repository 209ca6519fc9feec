# Sourced by the scripts: installs a pinned Python tool into its own venv under .tools, once.
# usage: python_tool <venv name> <module to import as a check> <pip requirement>...
TOOLS=${FRONTDOOR_TOOLS:-$PWD/.tools}
# The local DynamoDB-compatible server (make test, make bench).
MOTO_REQUIREMENT='moto[server]==5.2.5'
python_tool() {
  local name=$1 check=$2
  shift 2
  local stamp="$TOOLS/$name/.installed"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$*" ] && "$TOOLS/$name/bin/python" -c "import $check" >/dev/null 2>&1; then
    return 0
  fi
  rm -rf "${TOOLS:?}/$name"
  python3 -m venv "$TOOLS/$name"
  "$TOOLS/$name/bin/pip" install --quiet --disable-pip-version-check "$@"
  echo "$*" >"$stamp"
}
