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
# train/export/ (the export driver, GGUF writer, model card, ollama Modelfile) is a leaf of
# the application: only the CLI commands and the export room itself include it.
bad=$(grep -rnE '^\s*#\s*include\s*"train/export/' train --include='*.h' --include='*.cpp' |
          grep -vE '^train/(commands|export)/' || true)
if [ -n "$bad" ]; then
    echo "train/export/ included outside train/commands/ and train/export/:"
    echo "$bad"
    status=1
fi
[ $status -eq 0 ] && echo "layering: ok"
exit $status
