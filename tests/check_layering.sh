#!/usr/bin/env bash
# Imports only point down (shared/DESIGN.md): common <- model, data <- optim <- train.
# data/ knows nothing of model/, model/ nothing of data/, optim/ sees model/ only for tensors;
# nothing below train/ (train/export/ included) reaches up into it.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
check() { # layer, allowed include roots (regex)
    local layer=$1 allowed=$2
    [ -d "$layer" ] || return 0
    local bad
    bad=$(grep -rnE '^\s*#\s*include\s*"[a-z_]+/' "$layer" --include='*.h' --include='*.cpp' \
              --include='*.inc' | grep -vE "#\s*include\s*\"($allowed)/" || true)
    if [ -n "$bad" ]; then
        echo "$layer/ includes outside ($allowed):"
        echo "$bad"
        status=1
    fi
}
check common 'common'
check model 'common|model'
check data 'common|data'
check optim 'common|model|optim'
check train 'common|model|data|optim|train'
# Rooms inside a layer: a sub-folder included only by the files allowed to (regex on the path).
only_from() { # included folder, including paths allowed (regex), why
    local bad
    bad=$(grep -rnE "^\s*#\s*include\s*\"$1" common model data optim train \
              --include='*.h' --include='*.cpp' | grep -vE "^($2)" || true)
    if [ -n "$bad" ]; then
        echo "$1 included outside $2 ($3):"
        echo "$bad"
        status=1
    fi
}
only_from train/commands/ 'train/commands/|train/main.cpp' 'the CLI is a leaf: nothing calls it'
only_from train/export/ 'train/commands/|train/export/|train/quickstart\.' \
    'the export room is used by the CLI and by the quickstart, which runs what the commands run'
only_from data/curate/ 'data/curate/|train/' 'datasets and tokenizers do not depend on curation'
[ $status -eq 0 ] && echo "layering: ok"
exit $status
