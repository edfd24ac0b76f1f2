"""Admin and data-plane ports that must not be reachable from every address: a vendored union of the
lists cloud providers' own scanners keep, taken on 2026-12-06.

- Google Security Command Center, Security Health Analytics firewall findings `OPEN_*_PORT`
  (https://cloud.google.com/security-command-center/docs/concepts-vulnerabilities-findings#firewall_findings),
  all of them except OPEN_HTTP_PORT (80, a web port a public service opens on purpose).
- AWS Security Hub EC2.19, "Security groups should not allow unrestricted access to ports with high
  risk" (https://docs.aws.amazon.com/securityhub/latest/userguide/ec2-controls.html#ec2-19), except
  its web and development-server ports 3000, 5000, 8080 and 8088; with EC2.13 and EC2.14 (22, 3389).
- Microsoft Defender for Cloud, "Management ports should be closed on your virtual machines"
  (22, 3389, WinRM 5985-5986; https://learn.microsoft.com/azure/defender-for-cloud/recommendations-reference).
- The Docker daemon's remote API (2375 plain, 2376 TLS: https://docs.docker.com/engine/security/protect-access/)
  and the Kubernetes control plane (API server 6443, etcd 2379-2380, kubelet 10250:
  https://kubernetes.io/docs/reference/networking/ports-and-protocols/), named in issue 20.

Ports are matched whatever the protocol (TCP, UDP, SCTP or all): every list above is about the port.
"""

from __future__ import annotations

#: (first port, last port, what listens there).
PORTS: tuple[tuple[int, int, str], ...] = (
    (20, 21, "FTP"),
    (22, 22, "SSH"),
    (23, 23, "Telnet"),
    (25, 25, "SMTP"),
    (53, 53, "DNS"),
    (110, 110, "POP3"),
    (135, 135, "Windows RPC"),
    (137, 139, "NetBIOS"),
    (143, 143, "IMAP"),
    (389, 389, "LDAP"),
    (445, 445, "SMB / directory services"),
    (636, 636, "LDAPS"),
    (1433, 1434, "SQL Server"),
    (1521, 1521, "Oracle"),
    (2375, 2376, "Docker daemon"),
    (2379, 2380, "etcd"),
    (2483, 2484, "Oracle"),
    (3306, 3306, "MySQL"),
    (3389, 3389, "RDP"),
    (4333, 4333, "mSQL"),
    (5432, 5432, "PostgreSQL"),
    (5500, 5500, "VNC"),
    (5601, 5601, "Kibana"),
    (5985, 5986, "WinRM"),
    (6379, 6379, "Redis"),
    (6443, 6443, "Kubernetes API server"),
    (7000, 7001, "Cassandra"),
    (7199, 7199, "Cassandra JMX"),
    (8888, 8888, "Cassandra OpsCenter"),
    (9042, 9042, "Cassandra"),
    (9090, 9090, "CiscoSecure WebSM"),
    (9160, 9160, "Cassandra Thrift"),
    (9200, 9200, "Elasticsearch"),
    (9300, 9300, "Elasticsearch"),
    (10250, 10250, "kubelet"),
    (11211, 11211, "Memcached"),
    (11214, 11215, "Memcached"),
    (27017, 27019, "MongoDB"),
    (61620, 61621, "Cassandra OpsCenter agent"),
)


def exposed(first: int, last: int) -> list[str]:
    """The listed services whose ports fall in first..last, as 'SSH (22)'."""
    return [f"{name} ({low}{'' if low == high else f'-{high}'})" for low, high, name in PORTS
            if low <= last and first <= high]
