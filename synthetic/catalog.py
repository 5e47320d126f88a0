"""Static vocabularies of the demo MSP: names, industries, products, ticket subjects.

Plain tuples (never sets), so every draw from them is deterministic.
"""

from __future__ import annotations

from decimal import Decimal

TENANT_NAMES = (
    "Northwind IT Services",
    "Bluepeak Managed IT",
    "Harborline Technology Partners",
    "Cobalt Ridge Networks",
    "Summit Stack MSP",
    "Prairie Byte Solutions",
    "Ironclad IT Group",
    "Lighthouse Tech Care",
    "Redwood Systems Support",
    "Keystone Managed Services",
)
TENANT_TIMEZONES = ("America/Chicago", "America/New_York", "America/Denver", "America/Los_Angeles")
TENANT_MAX_DISCOUNTS = ("10.00", "12.50", "15.00")

#: industry, share of clients, ticket-rate multiplier, price multiplier, elasticity multiplier
INDUSTRIES: tuple[tuple[str, float, float, float, float], ...] = (
    ("Healthcare", 0.10, 1.15, 1.10, 0.8),
    ("Dental", 0.08, 1.00, 1.05, 0.9),
    ("Legal", 0.09, 1.05, 1.15, 0.7),
    ("Accounting", 0.09, 0.95, 1.05, 0.9),
    ("Manufacturing", 0.10, 1.10, 0.95, 1.1),
    ("Construction", 0.07, 0.90, 0.90, 1.2),
    ("Real Estate", 0.06, 0.85, 1.00, 1.1),
    ("Nonprofit", 0.07, 0.95, 0.80, 1.6),
    ("Retail", 0.06, 1.05, 0.90, 1.3),
    ("Professional Services", 0.09, 1.00, 1.05, 1.0),
    ("Education", 0.04, 1.10, 0.85, 1.5),
    ("Logistics", 0.05, 1.05, 0.95, 1.1),
    ("Financial Services", 0.06, 1.10, 1.20, 0.7),
    ("Architecture & Engineering", 0.04, 1.00, 1.05, 1.0),
)
INDUSTRY_NOUNS: dict[str, tuple[str, ...]] = {
    "Healthcare": ("Medical Clinic", "Family Practice", "Physical Therapy", "Health Partners"),
    "Dental": ("Dental Group", "Family Dentistry", "Orthodontics", "Dental Care"),
    "Legal": ("Law Group", "Legal", "Law Offices", "Trial Lawyers"),
    "Accounting": ("CPAs", "Accounting", "Tax & Advisory", "Bookkeeping"),
    "Manufacturing": ("Manufacturing", "Industries", "Fabrication", "Precision Parts"),
    "Construction": ("Construction", "Builders", "Contracting", "Roofing"),
    "Real Estate": ("Realty", "Properties", "Property Management", "Homes"),
    "Nonprofit": ("Foundation", "Community Services", "Alliance", "Food Bank"),
    "Retail": ("Outfitters", "Supply Co.", "Boutique", "Hardware"),
    "Professional Services": ("Consulting", "Advisors", "Group", "Staffing"),
    "Education": ("Academy", "Learning Center", "Montessori School", "Prep School"),
    "Logistics": ("Logistics", "Freight", "Distribution", "Transport"),
    "Financial Services": ("Wealth Management", "Financial", "Insurance Agency", "Credit Union"),
    "Architecture & Engineering": ("Architects", "Engineering", "Design Studio", "Surveying"),
}
NAME_PREFIXES = (
    "Riverside",
    "Summit",
    "Oakwood",
    "Harbor",
    "Pinecrest",
    "Lakeside",
    "Granite",
    "Maple",
    "Cedar",
    "Ironwood",
    "Bluewater",
    "Redstone",
    "Sterling",
    "Beacon",
    "Meridian",
    "Evergreen",
    "Silverline",
    "Northgate",
    "Westfield",
    "Eastbrook",
    "Southport",
    "Highland",
    "Valley",
    "Prairie",
    "Canyon",
    "Coastal",
    "Frontier",
    "Heritage",
    "Liberty",
    "Pioneer",
    "Keystone",
    "Crescent",
    "Willow",
    "Aspen",
    "Birchwood",
    "Foxhill",
    "Stonebridge",
    "Clearwater",
    "Brightwater",
    "Golden Gate",
    "Magnolia",
    "Sequoia",
    "Timberline",
    "Copper Creek",
    "Hawthorne",
    "Kingsley",
    "Whitman",
    "Caldwell",
    "Morrison",
    "Bennett",
    "Harper",
    "Sullivan",
    "Donovan",
    "Fletcher",
    "Garrison",
    "Holloway",
    "Langford",
    "Mercer",
    "Prescott",
    "Radcliffe",
    "Thornton",
    "Whitaker",
    "Ashford",
    "Blackwell",
    "Carver",
    "Delaney",
    "Ellison",
    "Fairbanks",
    "Gallagher",
    "Hendricks",
    "Kensington",
    "Lockhart",
    "Montgomery",
    "Nash",
    "Oakley",
    "Pemberton",
    "Quincy",
    "Rutherford",
    "Sinclair",
    "Tremont",
    "Vance",
    "Winslow",
)

FIRST_NAMES = (
    "James",
    "Maria",
    "Robert",
    "Linda",
    "Michael",
    "Priya",
    "David",
    "Sarah",
    "Daniel",
    "Aisha",
    "Kevin",
    "Emily",
    "Jose",
    "Hannah",
    "Brian",
    "Mei",
    "Tyler",
    "Olivia",
    "Marcus",
    "Grace",
    "Ethan",
    "Sofia",
    "Jordan",
    "Chloe",
    "Andre",
    "Natalie",
    "Lucas",
    "Fatima",
    "Ryan",
    "Zoe",
)
LAST_NAMES = (
    "Nguyen",
    "Smith",
    "Garcia",
    "Johnson",
    "Patel",
    "Brown",
    "Kim",
    "Davis",
    "Martinez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Lee",
    "Taylor",
    "Moore",
    "Jackson",
    "White",
    "Lopez",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
)

#: role, tier (1 desk, 2 systems, 3 senior), share, hourly cost range
TECH_ROLES: tuple[tuple[str, int, float, float, float], ...] = (
    ("Service Desk Technician", 1, 0.50, 45.0, 60.0),
    ("Systems Engineer", 2, 0.32, 58.0, 78.0),
    ("Senior Network Engineer", 3, 0.18, 72.0, 95.0),
)

PRIORITIES = ("p1", "p2", "p3", "p4")
PRIORITY_SHARE = (0.04, 0.14, 0.50, 0.32)
#: median resolution hours at neutral service quality, and the SLA resolution target (hours)
PRIORITY_MEDIAN_HOURS = (1.2, 2.4, 7.0, 20.0)
PRIORITY_SLA_HOURS = (4.0, 8.0, 24.0, 72.0)
#: multiplier of the hours logged per time entry
PRIORITY_EFFORT = (1.8, 1.3, 1.0, 0.8)

#: Tickets of this category at a managed (per-user/per-device/flat) client are out of scope,
#: hence billable at the contract's hourly rate.
OUT_OF_SCOPE_CATEGORY = "Project & Change Request"
CATEGORIES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    (
        "Hardware",
        0.14,
        (
            "Laptop will not power on",
            "Docking station not detecting monitors",
            "Replace failing hard drive",
            "Keyboard and mouse unresponsive",
            "Workstation running very slowly",
        ),
    ),
    (
        "Software",
        0.16,
        (
            "Application crashes on startup",
            "Install requested software",
            "Update line-of-business application",
            "Adobe Acrobat licence error",
            "Excel add-in not loading",
        ),
    ),
    (
        "Network",
        0.10,
        (
            "Internet connection dropping",
            "VPN cannot connect",
            "Wi-Fi slow in conference room",
            "Cannot reach file share",
            "Firewall blocking vendor portal",
        ),
    ),
    (
        "Email & Collaboration",
        0.15,
        (
            "Outlook keeps asking for password",
            "Shared mailbox missing",
            "Teams calls dropping",
            "Email bouncing to external domain",
            "Calendar permissions request",
        ),
    ),
    (
        "Security",
        0.08,
        (
            "Suspicious phishing email reported",
            "Account locked after failed logins",
            "Antivirus alert on workstation",
            "MFA device replacement",
            "Possible compromised account",
        ),
    ),
    (
        "User Access & Accounts",
        0.13,
        (
            "New user setup",
            "Password reset",
            "Offboard departing employee",
            "Grant access to shared drive",
            "Update distribution list",
        ),
    ),
    (
        "Printing",
        0.07,
        (
            "Printer offline",
            "Scanner not sending to email",
            "Print jobs stuck in queue",
            "Install printer driver",
            "Toner replacement alert",
        ),
    ),
    (
        "Backup & Recovery",
        0.06,
        (
            "Backup job failed",
            "Restore deleted file",
            "Restore mailbox item",
            "Backup storage near capacity",
            "Verify backup of accounting database",
        ),
    ),
    (
        OUT_OF_SCOPE_CATEGORY,
        0.06,
        (
            "Office move: relocate workstations",
            "Set up new conference room AV",
            "Migrate department to new file server",
            "Configure new branch office network",
            "Deploy new line-of-business application",
        ),
    ),
    (
        "Other",
        0.05,
        (
            "General question",
            "Phone system issue",
            "Request for IT quote",
            "Website contact form not working",
            "Vendor coordination",
        ),
    ),
)

#: product, sku, vendor unit cost per seat-month, basis ("seats" or "devices"), coverage
MAIN_LICENSES: tuple[tuple[str, str, str, float], ...] = (
    ("Microsoft 365 Business Premium", "CFQ7TTC0LCHC", "22.00", 0.45),
    ("Microsoft 365 Business Standard", "CFQ7TTC0LDPB", "12.50", 0.35),
    ("Microsoft 365 Business Basic", "CFQ7TTC0LH18", "6.00", 0.20),
)
#: product, sku, unit cost, basis, probability a client has it, coverage of the basis
ADDON_LICENSES: tuple[tuple[str, str, str, str, float, float], ...] = (
    ("Datto SaaS Protection", "DSP-M365-USER", "2.50", "seats", 0.40, 1.0),
    ("SentinelOne Singularity Control", "S1-CTRL-EP", "5.00", "devices", 0.35, 1.0),
    ("Duo MFA", "DUO-ESS-USER", "3.00", "seats", 0.20, 1.0),
    ("Exchange Online (Plan 1)", "CFQ7TTC0LH16", "4.00", "seats", 0.25, 0.2),
)

#: item, sku, unit price, max quantity
HARDWARE: tuple[tuple[str, str, Decimal, int], ...] = (
    ("Dell Latitude 5550 laptop", "HW-LAT5550", Decimal("1349.00"), 4),
    ('Dell 24" monitor', "HW-P2425H", Decimal("219.00"), 6),
    ("Dell WD19S docking station", "HW-WD19S", Decimal("239.00"), 4),
    ("FortiGate 60F firewall", "HW-FG60F", Decimal("949.00"), 1),
    ("Aruba Instant On AP22 access point", "HW-AP22", Decimal("189.00"), 4),
    ("APC Back-UPS Pro 1500", "HW-BR1500", Decimal("379.00"), 2),
    ("Ubiquiti 24-port PoE switch", "HW-USW24P", Decimal("649.00"), 1),
)
PROJECTS: tuple[tuple[str, str, int, int], ...] = (
    ("Server migration project", "PRJ-SRVMIG", 4500, 18000),
    ("Microsoft 365 tenant migration", "PRJ-M365MIG", 2500, 9000),
    ("Network refresh project", "PRJ-NETREF", 3000, 12000),
    ("Security assessment", "PRJ-SECASSESS", 1500, 4500),
)

#: asset kind, share of a client's managed devices, name abbreviation
ASSET_KINDS: tuple[tuple[str, float, str], ...] = (
    ("workstation", 0.44, "WS"),
    ("laptop", 0.36, "LT"),
    ("server", 0.04, "SRV"),
    ("network", 0.07, "NET"),
    ("printer", 0.05, "PRN"),
    ("mobile", 0.04, "MOB"),
)

CONTRACT_SKUS = {
    "per_user": "MSP-PER-USER",
    "per_device": "MSP-PER-DEVICE",
    "block_hours": "MSP-BLOCK",
    "time_and_materials": "MSP-TM",
    "flat": "MSP-FLAT",
}
CONTRACT_LABELS = {
    "per_user": "Managed IT services, per user",
    "per_device": "Managed IT services, per device",
    "block_hours": "Prepaid block of support hours",
    "time_and_materials": "Time and materials support",
    "flat": "Managed IT services, flat fee",
}
LABOR_SKU = "LAB-HOURLY"
OVERAGE_SKU = "LAB-OVERAGE"

#: How each ticket subject above was resolved (same order), for resolved tickets' notes; the
#: knowledge base indexes them so "how did we fix X last time?" has an answer.
RESOLUTIONS: dict[str, tuple[str, ...]] = {
    "Hardware": (
        "Reseated battery and replaced the faulty AC adapter under warranty; laptop boots.",
        "Updated dock firmware and DisplayLink driver; both monitors detected after reboot.",
        "Cloned the failing drive to a new SSD and returned the old one for secure disposal.",
        "Replaced the USB receiver and re-paired the keyboard and mouse.",
        "Removed startup bloat, added 8 GB RAM and applied pending Windows updates.",
    ),
    "Software": (
        "Repaired the install and cleared the corrupt user profile cache; app starts normally.",
        "Packaged and deployed the software through the RMM policy to the requested users.",
        "Applied the vendor's latest update after a backup; verified with the client's admin.",
        "Re-activated Acrobat by reassigning the licence seat in the admin console.",
        "Re-registered the add-in and unblocked it in the Office trust centre.",
    ),
    "Network": (
        "ISP replaced the modem after line tests showed packet loss; monitoring for a week.",
        "Renewed the expired VPN certificate and pushed the new profile to the user.",
        "Moved the conference room access point to a clean 5 GHz channel.",
        "Restored the mapped drive after fixing the DNS suffix on the DHCP scope.",
        "Added a firewall rule allowing the vendor portal's address range.",
    ),
    "Email & Collaboration": (
        "Cleared cached credentials and re-created the Outlook profile with modern auth.",
        "Re-granted FullAccess on the shared mailbox; it auto-mapped after restart.",
        "Updated Teams and set QoS on the firewall; calls stable since.",
        "Fixed the SPF record to include the mail relay; external mail delivers again.",
        "Granted editor rights on the calendar per the manager's approval.",
    ),
    "Security": (
        "Purged the phishing email tenant-wide and blocked the sender domain.",
        "Unlocked the account, reset the password and reviewed the sign-in log: user error.",
        "Quarantined the file, ran a full scan and confirmed the endpoint is clean.",
        "Removed the old MFA method and enrolled the new phone with the user on a call.",
        "Revoked sessions, reset credentials, enforced MFA and reviewed mailbox rules.",
    ),
    "User Access & Accounts": (
        "Created the account, licences, groups and laptop from the onboarding checklist.",
        "Reset the password and confirmed self-service password reset is enrolled.",
        "Disabled the account, converted the mailbox to shared and recovered the laptop.",
        "Added the user to the drive's security group after owner approval.",
        "Updated the distribution list membership as requested.",
    ),
    "Printing": (
        "Power-cycled the printer and reassigned its static IP; back online.",
        "Updated the scanner's SMTP relay settings to the new mail server.",
        "Cleared the spooler and removed the stuck job; queue prints again.",
        "Deployed the universal print driver through group policy.",
        "Ordered toner through the supplier portal; client billed for consumables.",
    ),
    "Backup & Recovery": (
        "Re-ran the job after freeing VSS storage; added an alert on the next failure.",
        "Restored the file from last night's snapshot to its original folder.",
        "Restored the mailbox item from the cloud backup.",
        "Pruned old restore points and raised the retention budget with the client.",
        "Test-restored the accounting database to a sandbox; backup verified.",
    ),
    "Project & Change Request": (
        "Completed as a scoped project outside the agreement; quoted and billed separately.",
        "Installed and tested the AV equipment; billed as a project.",
        "Migrated the share with permissions intact over a weekend change window.",
        "Configured the branch firewall, switch and access points from the standard build.",
        "Deployed and configured the application per the vendor's runbook.",
    ),
    "Other": (
        "Answered the question and linked the relevant how-to in the client portal.",
        "Escalated to the phone vendor, who reprovisioned the handset.",
        "Sent a quote for the requested equipment.",
        "Fixed the form's SMTP credentials on the web host.",
        "Coordinated with the vendor and documented the outcome on the ticket.",
    ),
}
