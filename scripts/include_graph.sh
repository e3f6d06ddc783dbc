#!/usr/bin/env bash
# The include graph between the project's folders: one line "from -> to (N includes)" per arrow,
# from every #include "folder/file.h" in the sources (tests, bench and examples excluded: they may
# include anything). Checks the allowed arrows of docs/design.md and exits 1 on any other.
# Usage: scripts/include_graph.sh [--dot]
set -euo pipefail
cd "$(dirname "$0")/.."
FOLDERS="common kernels quantizers modules optim models train export runtime"
# Allowed arrows (docs/design.md, "Layers"): each folder may include these, and itself.
declare -A ALLOWED=(
  [common]=""
  [kernels]="common"
  [quantizers]="common kernels"
  [modules]="common kernels quantizers"
  [optim]="common kernels"
  [models]="common kernels quantizers modules"
  [train]="common kernels quantizers modules optim models"
  [export]="common kernels quantizers modules optim models train"
  [runtime]="common kernels"
)
edges="$(for from in $FOLDERS; do
  [ -d "$from" ] || continue
  grep -rhoE '^#include "[a-z_]+/' "$from" --include='*.h' --include='*.cpp' --include='*.cu' --include='*.cuh' \
    | sed -E 's/#include "([a-z_]+)\//\1/' | grep -vx "$from" | sed "s/^/$from /" || true
done | sort | uniq -c | awk '{print $2, $3, $1}')"
status=0
if [ "${1:-}" = "--dot" ]; then
  echo "digraph includes {"
  echo "$edges" | awk 'NF {printf "  \"%s\" -> \"%s\" [label=%s];\n", $1, $2, $3}'
  echo "}"
else
  while read -r from to count; do
    [ -n "$from" ] || continue
    mark=""
    case " ${ALLOWED[$from]:-} " in *" $to "*) ;; *) mark="   <-- not allowed"; status=1 ;; esac
    echo "$from -> $to ($count includes)$mark"
  done <<< "$edges"
fi
exit $status
