#!/bin/bash
# Test double (harbor-wizard lab): Harbor v2.15.2's make/common.sh as install.sh uses it,
# written from its behaviour: tput colours and the h2/note/success/error helpers,
# check_docker (docker >= 17.06, "docker version: X") and check_dockercompose, which
# prefers the compose plugin (`docker compose version`, DOCKER_COMPOSE="docker compose")
# and else wants docker-compose >= 1.18. Its first test is upstream's `[! ... ]`, which
# never fires (bash: "[!: command not found", silenced): a node with neither compose ends
# in "Failed to parse docker-compose version.".

set +e
set -o noglob

bold=$(tput bold)
underline=$(tput sgr 0 1)
reset=$(tput sgr0)
red=$(tput setaf 1)
green=$(tput setaf 76)
white=$(tput setaf 7)
tan=$(tput setaf 202)
blue=$(tput setaf 25)

h2() { printf "\n${underline}${bold}${white}%s${reset}\n" "$@"; }
success() { printf "${green}✔ %s${reset}\n" "$@"; }
error() { printf "${red}✖ %s${reset}\n" "$@"; }
warn() { printf "${tan}➜ %s${reset}\n" "$@"; }
note() { printf "\n${underline}${bold}${blue}Note:${reset} ${blue}%s${reset}\n" "$@"; }

set -e

version_re='(([0-9]+)\.([0-9]+)([\.0-9]*))'

function check_docker {
    if ! docker --version &> /dev/null; then
        error "Need to install docker(20.10.10+) first and run this script again."
        exit 1
    fi
    if [[ $(docker --version) =~ $version_re ]]; then
        note "docker version: ${BASH_REMATCH[1]}"
        local major=${BASH_REMATCH[2]} minor=${BASH_REMATCH[3]}
        if [ "$major" -lt 17 ] || { [ "$major" -eq 17 ] && [ "$minor" -lt 6 ]; }; then
            error "Need to upgrade docker package to 20.10.10+."
            exit 1
        fi
    else
        error "Failed to parse docker version."
        exit 1
    fi
}

function check_dockercompose {
    if docker compose version &> /dev/null; then
        note "$(docker compose version)"
        DOCKER_COMPOSE="docker compose"
    elif [[ $(docker-compose --version) =~ $version_re ]]; then
        note "docker-compose version: ${BASH_REMATCH[1]}"
        local major=${BASH_REMATCH[2]} minor=${BASH_REMATCH[3]}
        if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 18 ]; }; then
            error "Need to upgrade docker-compose package to 1.18.0+."
            exit 1
        fi
    else
        error "Failed to parse docker-compose version."
        exit 1
    fi
}
