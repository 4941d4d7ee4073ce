# Sourced by the bench scripts (after they cd to the repository root): waits, before a timed
# run, for other work on this small machine to end, and says how busy it still was.

# The share (%) of the CPUs busy over one second, from /proc/stat.
busy() {
    local a b
    read -r -a a < <(head -1 /proc/stat); sleep 1; read -r -a b < <(head -1 /proc/stat)
    local idle=$(( b[4] + b[5] - a[4] - a[5] )) total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
    echo $(( 100 - 100 * idle / (total > 0 ? total : 1) ))
}

# wait_for_quiet LABEL WARNING: waits up to $wait_quiet seconds for the CPUs to be at most 10 %
# busy, prints "# LABEL: CPUs N% busy before it ...", and "# WARNING: WARNING" when they still
# are not. Leaves the figure in $pct.
wait_for_quiet() {
    local waited=0
    pct=$(busy)
    while [ "$pct" -gt 10 ] && [ "$waited" -lt "$wait_quiet" ]; do
        pct=$(busy); waited=$((waited + 1))
    done
    echo "# $1: CPUs ${pct}% busy before it (waited ${waited}s), load average" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
    [ "$pct" -le 10 ] || echo "# WARNING: $2"
}
