#!/bin/bash
# First-boot setup of a GPU instance (EC2 user data, or Tencent Cloud CVM "custom data"): an image with the
# NVIDIA driver, Docker and the NVIDIA container toolkit is assumed (AWS Deep Learning Base AMI, Tencent Cloud
# GPU images with "auto-install GPU driver"). Pulls the inference image and installs the systemd unit that
# starts Triton on every boot; the functions then start and stop the instance to scale to zero.
set -euo pipefail
IMAGE="${COSYVOICE_IMAGE:-registry.example.com/cosyvoice3-triton:latest}"
echo "COSYVOICE_IMAGE=${IMAGE}" > /etc/default/cosyvoice-triton
mkdir -p /var/cache/cosyvoice
docker pull "${IMAGE}"
cat > /etc/systemd/system/cosyvoice-triton.service <<'UNIT'
# systemd unit for the GPU instance (EC2 or Tencent Cloud CVM): starts Triton with the cosyvoice3 model on
# boot, so the endpoint controller's start gives a ready endpoint after the boot and the model load.
# Install: copy to /etc/systemd/system/, `systemctl daemon-reload && systemctl enable cosyvoice-triton`.
[Unit]
Description=CosyVoice3 on Triton Inference Server
After=docker.service network-online.target
Requires=docker.service
Wants=network-online.target

[Service]
Restart=always
RestartSec=5
TimeoutStartSec=900
# The image holds the weights; a local cache keeps TensorRT engines across reboots when COSYVOICE_LOAD_TRT=true.
ExecStartPre=-/usr/bin/docker rm -f cosyvoice-triton
ExecStart=/usr/bin/docker run --name cosyvoice-triton --gpus all --shm-size=2g \
    -p 8000:8000 -p 8001:8001 -p 8002:8002 \
    -e COSYVOICE_FP16=true -v /var/cache/cosyvoice:/var/cache/cosyvoice \
    ${COSYVOICE_IMAGE}
ExecStop=/usr/bin/docker stop -t 30 cosyvoice-triton
EnvironmentFile=-/etc/default/cosyvoice-triton

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now cosyvoice-triton
