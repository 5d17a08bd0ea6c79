resource "proxmox_vm_qemu" "vm_web_02" {
  name        = "web-02"
  vmid        = 102
  target_node = "pve2"
  tags        = "web;production"
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  cores       = 2
  sockets     = 1
  memory      = 4096
  pool        = "prod"

  disk {
    type     = "scsi"
    storage  = "ceph-vm"
    size     = "32G"
    iothread = 1
  }

  network {
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:02:01"
    firewall = true
  }
}

import {
  to = proxmox_vm_qemu.vm_web_02
  id = "pve2/qemu/102"
}
