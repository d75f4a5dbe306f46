#!/bin/sh
# list_names_every_workload.sh ERLANG_SAVINA VOLLEY_SAVINA: erlang-savina
# --list prints one JSON array of the workloads volley-savina --list prints
# (the shared list, VOLLEY_SAVINA_WORKLOADS), and exits 0.
set -eu
names() { tr -d '[]"' | tr ',' '\n' | sort; }
erlang=$("$1" --list)
volley=$("$2" --list)
case $erlang in
  '["'*'"]') ;;
  *) echo "FAIL: erlang-savina --list printed no JSON array of names: $erlang" >&2; exit 1 ;;
esac
if [ "$(echo "$erlang" | names)" != "$(echo "$volley" | names)" ]; then
  echo "FAIL: erlang-savina --list printed $erlang" >&2
  echo "      volley-savina --list printed $volley" >&2
  exit 1
fi
echo "ok: $(echo "$erlang" | names | wc -l) workloads"
