#!/bin/bash
# Test double (harbor-wizard lab): Harbor 1.4.0's install.sh, stand-in.
# Follows the real script's checks and order (sample hostname, docker and
# docker-compose versions, the `host` variable rewrite, ./prepare with --ha and
# --with-clair), but loads no images and starts no containers: ./prepare records what it
# did and the stand-in server answers Harbor's API on this node's port 80 (and 443).
set -e
workdir="$( cd "$( dirname "${BASH_SOURCE[0]}" )" && pwd )"
cd "$workdir"

usage=$'Please set hostname and other necessary attributes in harbor.cfg first. DO NOT use localhost or 127.0.0.1 for hostname, because Harbor needs to be accessed by external clients.
Please set --with-notary if needs enable Notary in Harbor, and set ui_url_protocol/ssl_cert/ssl_cert_key in harbor.cfg bacause notary must run under https.
Please set --with-clair if needs enable Clair in Harbor
Please set --ha if needs enable high availability mode in Harbor'
install_args="$*"
item=0
with_notary=""; with_clair=""; harbor_ha=""
while [ $# -gt 0 ]; do
    case $1 in
        --help) echo "$usage"; exit 0 ;;
        --with-notary) with_notary=true ;;
        --with-clair) with_clair=true ;;
        --ha) harbor_ha=true ;;
        *) echo "$usage"; exit 1 ;;
    esac
    shift || true
done

h2() { echo ""; echo "$1"; }

if grep '^[[:blank:]]*hostname = reg.mydomain.com' &> /dev/null harbor.cfg; then
    echo "$usage"
    exit 1
fi

h2 "[Step $item]: checking installation environment ..."; item=$((item+1))
ver_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
if ! docker --version &> /dev/null; then
    echo "Need to install docker(1.10.0+) first and run this script again."; exit 1
fi
docker_version=$(docker --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1)
ver_ge "$docker_version" 1.10.0 || { echo "Docker version should be 1.10.0+."; exit 1; }
echo "Note: docker version: $docker_version"
if ! docker-compose --version &> /dev/null; then
    echo "Need to install docker-compose(1.7.1+) by yourself first and run this script again."; exit 1
fi
compose_version=$(docker-compose --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1)
ver_ge "$compose_version" 1.7.1 || { echo "Docker-compose version should be 1.7.1+."; exit 1; }
echo "Note: docker-compose version: $compose_version"

if [ -f harbor*.tar.gz ]; then
    h2 "[Step $item]: loading Harbor images ..."; item=$((item+1))
    echo "Loaded image: vmware/harbor-ui:v1.4.0 (stand-in: nothing loaded)"
fi

h2 "[Step $item]: preparing environment ...";  item=$((item+1))
if [ -n "$host" ]; then
    sed "s/^hostname = .*/hostname = $host/g" -i ./harbor.cfg
fi
prepare_para=
if [ $with_notary ] && [ ! $harbor_ha ]; then prepare_para=--with-notary; fi
if [ $harbor_ha ]; then prepare_para="$prepare_para --ha"; fi
if [ $with_clair ]; then prepare_para="$prepare_para --with-clair"; fi
if [ $with_notary ] && [ $harbor_ha ]; then prepare_para="$prepare_para --with-notary"; fi
# The real prepare is `#!/usr/bin/python` (Python 2): fail the way a node without it does.
if [ ! -x /usr/bin/python ]; then
    echo "./install.sh: line 170: ./prepare: /usr/bin/python: bad interpreter: No such file or directory" >&2
    exit 126
fi
export STANDIN_INSTALL_ARGS="$install_args" STANDIN_HOST_ENV="${host-}"
/usr/bin/python3 ./prepare $prepare_para

h2 "[Step $item]: checking existing instance of Harbor ..."; item=$((item+1))
# docker-compose down: stop the server a previous run started (a zombie is stopped).
state=/data/harbor-standin
alive() { local s; s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) && [ -n "$s" ] && [ "$s" != Z ]; }
if [ -f $state/server.pid ]; then
    pid=$(cat $state/server.pid)
    if alive "$pid"; then
        kill "$pid"
        for _ in $(seq 100); do alive "$pid" || break; sleep 0.05; done
    fi
fi
rm -f $state/server.pid $state/server.ready

h2 "[Step $item]: starting Harbor ..."
docker-compose -f docker-compose.yml up -d
setsid -f /usr/bin/python3 "$workdir/common/standin/server.py" $state/install.json \
    </dev/null >>$state/server.log 2>&1
for _ in $(seq 200); do
    if [ -f $state/server.pid ] && [ -f $state/server.ready ]; then break; fi
    sleep 0.05
done
if [ ! -f $state/server.ready ]; then
    echo "stand-in: Harbor server did not start, see $state/server.log" >&2
    exit 1
fi

protocol=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["protocol"])' $state/install.json)
hostname=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hostname"])' $state/install.json)
echo ""
echo "✔ ----Harbor has been installed and started successfully.----"
echo ""
echo "Now you should be able to visit the admin portal at ${protocol}://${hostname}. "
echo "For more details, please visit https://github.com/vmware/harbor ."
echo ""
