#!/usr/bin/env bash
# `cmake --install` into a fresh prefix: the tool runs from there, the man page is valid roff
# that documents every command and recipe key, and the bash completion completes commands,
# options, recipe keys and their values.
#   check_install.sh BUILD_DIR PREFIX
set -euo pipefail
build=$1 prefix=$2
rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" > /dev/null
bin=$prefix/bin/slimtune
man=$prefix/share/man/man1/slimtune.1
completion=$prefix/share/bash-completion/completions/slimtune
"$bin" version | grep -q "^slimtune [0-9]"
# The quickstart finds the embedded default and its recipe in the prefix (stopped here by a
# dictionary that does not exist, after it has named what it uses).
"$bin" quickstart --out "$prefix/qs" --dictionary "$prefix/none.dz" 2> "$prefix/qs.err" && exit 1
grep -q "quickstart: base $prefix/share/slimtune/embedded/tiny-gcide, recipe $prefix/share/slimtune/recipes/quickstart.ini" "$prefix/qs.err" ||
    { echo "installed quickstart: $(cat "$prefix/qs.err")"; exit 1; }
grep -q "none.dz" "$prefix/qs.err" || { echo "installed quickstart: $(cat "$prefix/qs.err")"; exit 1; }
[ ! -e "$prefix/qs" ] || { echo "installed quickstart: wrote $prefix/qs before failing"; exit 1; }

# The man page: groff reads it without a warning, and it names every command and key.
warnings=$(groff -man -ww -z "$man" 2>&1)
[ -z "$warnings" ] || { echo "groff: $warnings"; exit 1; }
text=$(groff -man -Tutf8 "$man" 2>/dev/null | col -b)
for c in $("$bin" --help | sed -n 's/^  \([a-z-]*\) .*/\1/p'); do
    grep -q "^   $c\$" <<< "$text" || { echo "man page: no section for command '$c'"; exit 1; }
done
for key in lora.rank optim.lr curate.quality.min_words train.output_dir; do
    grep -q "^       $key\$" <<< "$text" || { echo "man page: no entry for key $key"; exit 1; }
done
grep -q "143" <<< "$text" || { echo "man page: no EXIT STATUS 143"; exit 1; }

# The completion, driven as bash drives it.
complete_words() { # WORDS... : the words bash would offer for the last one
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _slimtune; echo "${COMPREPLY[*]}"' \
        _ "$completion" "$@"
}
[ "$(complete_words slimtune tra)" = "train" ] || { echo "completion: 'tra' -> '$(complete_words slimtune tra)'"; exit 1; }
got=$(complete_words slimtune train --lora.ra)
[ "$got" = "--lora.rank --lora.rank_pattern" ] || { echo "completion: '--lora.ra' -> '$got'"; exit 1; }
got=$(complete_words slimtune export --ty)
[ "$got" = "--type" ] || { echo "completion: export '--ty' -> '$got'"; exit 1; }
got=$(complete_words slimtune train --train.mode "")
[ "$got" = "lora full" ] || { echo "completion: --train.mode values -> '$got'"; exit 1; }
echo "INSTALL-OK"
