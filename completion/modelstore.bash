# bash completion for modelstore                     -*- shell-script -*-
# Installed as share/bash-completion/completions/modelstore.  The command
# and option lists are checked against `modelstore --help` and each
# `modelstore COMMAND --help` by tests/cli_docs_drift.sh: keep them in
# step with cli/main.c's command table and the commands' option tables.

_modelstore_commands="migrate push pull load list show promote rollback export prune verify predictions report runs alias partitions doctor"
_modelstore_globals="--db --json --name --fallback-dir --timeout --quiet --version --help"

_modelstore_options() {
    case $1 in
        migrate)     echo "--help" ;;
        push)        echo "--version --type --run-id --accuracy --rmse --r2 --metric --metrics-file --param --params-file --compress --production --reason --quiet --help" ;;
        pull)        echo "--output --artifact --force --quiet --help" ;;
        load)        echo "--watch --help" ;;
        list)        echo "--limit --sort --desc --where --help" ;;
        show)        echo "--artifact --help" ;;
        promote)     echo "--reason --help" ;;
        rollback)    echo "--reason --help" ;;
        export)      echo "--dir --quiet --help" ;;
        prune)       echo "--keep --dry-run --help" ;;
        verify)      echo "--backfill --help" ;;
        predictions) echo "import actual prune --spool-dir --file --older-than --batch --dry-run --quiet --help" ;;
        report)      echo "--since --html --help" ;;
        runs)        echo "start log finish list show --run-id --param --params-file --tag --dataset-size --step --file --version --status --limit --metric --help" ;;
        alias)       echo "set rm list --reason --help" ;;
        partitions)  echo "enable ensure drop list abort --ahead --older-than --dry-run --help" ;;
        doctor)      echo "--spool-dir --help" ;;
    esac
}

_modelstore() {
    local cur prev cmd i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        --db|--name|--timeout|--type|--run-id|--accuracy|--rmse|--r2|--metric|--param|--reason|--limit|--keep|--since|--older-than|--batch|--version|--sort|--where|--tag|--dataset-size|--step|--status|--ahead)
            return ;;
        --fallback-dir|--dir|--spool-dir)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --output|-o|--html|--file|--params-file|--metrics-file)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --db|--name|--fallback-dir|--timeout) ((i++)) ;;
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$_modelstore_globals" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$_modelstore_commands" -- "$cur"))
        fi
        return
    fi
    case $cmd in
        pull|show|promote|export)
            if [[ $cur != -* ]]; then
                COMPREPLY=($(compgen -W "production latest @" -- "$cur")); return
            fi ;;
        push)
            if [[ $cur != -* ]]; then
                COMPREPLY=($(compgen -f -- "$cur")); return
            fi ;;
    esac
    COMPREPLY=($(compgen -W "$(_modelstore_options "$cmd") --db --json --name --fallback-dir" -- "$cur"))
}
complete -F _modelstore modelstore
