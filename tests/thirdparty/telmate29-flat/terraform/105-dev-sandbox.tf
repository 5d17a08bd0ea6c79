resource "proxmox_vm_qemu" "vm_dev_sandbox" {
  name        = "dev-sandbox"
  vmid        = 105
  target_node = "pve3"
  tags        = "dev"
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  cores       = 1
  sockets     = 1
  memory      = 1024
  pool        = "lab"

  disk {
    type     = "scsi"
    storage  = "local-lvm"
    size     = "20G"
    iothread = 1
  }

  network {
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:05:01"
    firewall = true
  }
}

import {
  to = proxmox_vm_qemu.vm_dev_sandbox
  id = "pve3/qemu/105"
}
