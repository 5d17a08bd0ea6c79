resource "proxmox_vm_qemu" "vm_win_build" {
  name        = "win-build"
  vmid        = 106
  target_node = "pve3"
  tags        = "ci"
  qemu_os     = "win11"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  cores       = 4
  sockets     = 1
  memory      = 8192

  disk {
    type     = "scsi"
    storage  = "nas-nfs"
    size     = "80G"
    iothread = 1
  }

  disk {
    type     = "scsi"
    storage  = "nas-nfs"
    size     = "40G"
    iothread = 1
  }

  network {
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:06:01"
    firewall = true
  }
}

import {
  to = proxmox_vm_qemu.vm_win_build
  id = "pve3/qemu/106"
}
