#!/usr/bin/env bash
# Entrypoint of the demo's `sftp` service (atmoz/sftp, see docker-compose.yml): installs the keys demo-init
# generated, then hands over to the image's own /entrypoint with the user spec
# (user::uid:gid:dir1,dir2,...). Run with bash, so it needs no execute bit.
#
#   - the host key: /etc/ssh/ssh_host_ed25519_key (the image only generates one when it is missing), so the
#     server presents the key that the Airflow connections' host_key extra holds;
#   - the SFTP user's public key: /home/<user>/.ssh/keys/, which the image's create-sftp-user copies into
#     authorized_keys; authorized_keys is also written here, so that a restarted container (whose user
#     already exists) takes a rotated key.
set -euo pipefail

keys=/demo-secrets
user="${1:-}"
user="${user%%:*}"
if [[ -z "${user}" ]]; then
    echo "sftp: give the user spec as the command (user::uid:gid:dir1,dir2)" >&2
    exit 1
fi

if [[ ! -s "${keys}/ssh_host_ed25519_key" || ! -s "${keys}/sftp_user_ed25519.pub" ]]; then
    echo "sftp: ${keys} holds no keys; demo-init must run first (docker compose --profile demo up)" >&2
    exit 1
fi

install -m 600 -o root -g root "${keys}/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
install -m 644 -o root -g root "${keys}/ssh_host_ed25519_key.pub" /etc/ssh/ssh_host_ed25519_key.pub

# sshd accepts root-owned .ssh files that only root can write (the chroot, /home/<user>, is root's too).
install -d -m 755 -o root -g root "/home/${user}/.ssh" "/home/${user}/.ssh/keys"
install -m 644 -o root -g root "${keys}/sftp_user_ed25519.pub" "/home/${user}/.ssh/keys/airflow.pub"
install -m 644 -o root -g root "${keys}/sftp_user_ed25519.pub" "/home/${user}/.ssh/authorized_keys"

exec /entrypoint "$@"
