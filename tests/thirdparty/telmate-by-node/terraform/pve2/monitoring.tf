resource "proxmox_vm_qemu" "qemu_104_monitoring" {
  vmid        = 104
  name        = "monitoring"
  description = ""
  target_node = var.node
  tags        = "ops"
  onboot      = false
  vm_state    = "running"
  agent       = 0
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  memory      = 8192

  cpu {
    cores   = 2
    sockets = 1
  }

  disks {
    scsi {
      scsi0 {
        disk {
          storage  = "local-lvm"
          size     = "100G"
          iothread = true
        }
      }
    }
  }

  network {
    id       = 0
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:04:01"
    firewall = true
  }
}
