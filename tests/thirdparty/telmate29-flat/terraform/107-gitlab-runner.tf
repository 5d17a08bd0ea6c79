resource "proxmox_vm_qemu" "vm_gitlab_runner" {
  name        = "gitlab-runner"
  vmid        = 107
  target_node = "pve2"
  tags        = "ci"
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  cores       = 4
  sockets     = 1
  memory      = 8192

  disk {
    type     = "scsi"
    storage  = "local-lvm"
    size     = "50G"
    iothread = 1
  }

  network {
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:07:01"
    firewall = true
  }
}

import {
  to = proxmox_vm_qemu.vm_gitlab_runner
  id = "pve2/qemu/107"
}
