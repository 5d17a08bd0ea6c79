resource "proxmox_vm_qemu" "qemu_105_dev_sandbox" {
  vmid        = 105
  name        = "dev-sandbox"
  description = ""
  target_node = var.node
  tags        = "dev"
  pool        = "lab"
  onboot      = false
  vm_state    = "stopped"
  agent       = 0
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  memory      = 1024

  cpu {
    cores   = 1
    sockets = 1
  }

  disks {
    scsi {
      scsi0 {
        disk {
          storage  = "local-lvm"
          size     = "20G"
          iothread = true
        }
      }
    }
  }

  network {
    id       = 0
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:05:01"
    firewall = true
  }
}
