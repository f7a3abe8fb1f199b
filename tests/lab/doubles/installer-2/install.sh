#!/bin/bash
# Test double (harbor-wizard lab): Harbor v2.15.2's make/install.sh, written from its
# behaviour. Flags: --with-trivy, --help (usage, exit 0); anything else prints the usage
# and exits 1 (--with-clair, --with-notary, --ha, ...). Steps as upstream: docker and
# compose checks (common.sh), `docker load -i harbor*.tar.gz`, the `host` variable written
# into harbor.yml's hostname, ./prepare [--with-trivy], then `$DOCKER_COMPOSE down -v`
# (always: upstream tests the non-empty string "$DOCKER_COMPOSE ps -q") and `up -d`.
# The lab's docker / docker-compose doubles play the containers.

set -e

DIR="$(cd "$(dirname "$0")" && pwd)"
source $DIR/common.sh

set +o noglob

usage=$'Please set hostname and other necessary attributes in harbor.yml first. DO NOT use localhost or 127.0.0.1 for hostname, because Harbor needs to be accessed by external clients.
Please set --with-trivy if needs enable Trivy in Harbor.
Please do NOT set --with-chartmuseum, as chartmusuem has been deprecated and removed.
Please do NOT set --with-notary, as notary has been deprecated and removed.'
item=0
with_trivy=
DOCKER_COMPOSE=docker-compose

for arg in "$@"; do
    case $arg in
        --help) note "$usage"; exit 0 ;;
        --with-trivy) with_trivy=true ;;
        *) note "$usage"; exit 1 ;;
    esac
done

cd "$DIR"

h2 "[Step $item]: checking if docker is installed ..."; let item+=1
check_docker

h2 "[Step $item]: checking docker-compose is installed ..."; let item+=1
check_dockercompose

if [ -f harbor*.tar.gz ]; then
    h2 "[Step $item]: loading Harbor images ..."; let item+=1
    docker load -i ./harbor*.tar.gz
fi
echo ""

h2 "[Step $item]: preparing environment ..."; let item+=1
if [ -n "$host" ]; then
    sed "s/^hostname: .*/hostname: $host/g" -i ./harbor.yml
fi

h2 "[Step $item]: preparing harbor configs ..."; let item+=1
prepare_para=
if [ -n "$with_trivy" ]; then
    prepare_para="${prepare_para} --with-trivy"
fi
./prepare $prepare_para
echo ""

note "stopping existing Harbor instance ..."
$DOCKER_COMPOSE down -v
echo ""

h2 "[Step $item]: starting Harbor ..."
$DOCKER_COMPOSE up -d

success $"----Harbor has been installed and started successfully.----"
