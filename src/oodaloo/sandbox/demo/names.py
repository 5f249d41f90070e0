"""Fixed name lists for the demo company: the firm, its vendors by role, and its clients."""

from __future__ import annotations

# One firm per scenario, so realms side by side (an advisor's portfolio) are told apart at a glance.
FIRMS = {
    "healthy": "Brightline Advisory Group",
    "tight": "Northfield Consulting Partners",
    "crisis": "Cobalt Street Strategy",
    "empty": "Greenfield Services Co",
}
FIRM_ADDRESS = {
    "Line1": "410 Townsend Street, Suite 300",
    "City": "San Francisco",
    "CountrySubDivisionCode": "CA",
    "PostalCode": "94107",
    "Country": "US",
}

# Vendors by role. Every role the generator relies on has at least one name here.
LANDLORD = "Townsend Street Properties LLC"
PAYROLL_PROVIDER = "Gusto"
IRS = "IRS"
STATE_TAX = "California Franchise Tax Board"
CARD_ISSUER = "American Express"
INSURERS = ("The Hartford", "Blue Shield of California")
UTILITIES = ("PG&E", "Comcast Business", "AT&T Business")
BILLED_SOFTWARE = ("Microsoft", "Salesforce", "HubSpot", "Atlassian", "Adobe")
CARD_SOFTWARE = ("Slack", "Zoom", "Dropbox", "Google Workspace", "DocuSign", "Intuit QuickBooks")
CONTRACTORS = (
    "Priya Natarajan Design",
    "Marco Alvarez Consulting",
    "Blue Fern Analytics",
    "Lena Hoffmann Copywriting",
    "Okafor Data Services",
    "Summit Research Partners",
)
PROFESSIONAL = ("Baker & Pruitt CPAs", "Lindqvist Law Group")
TRAVEL = ("United Airlines", "Marriott", "Uber", "Delta Air Lines", "Hilton")
MEALS = ("Blue Bottle Coffee", "The Grove Cafe")
OFFICE = ("Staples", "Amazon Business", "Uline")

# Clients of a professional-services firm. More are composed from the word lists for large realms.
CUSTOMERS = (
    "Harbor Dental LLC",
    "Pinecrest Veterinary Clinic",
    "Alder & Finch Architects",
    "Northgate Logistics",
    "Sunset Ridge Winery",
    "Copperleaf Bakery",
    "Meridian Health Partners",
    "Bayview Realty Group",
    "Redwood Family Law",
    "Tidewater Marine Supply",
    "Orchard Lane Montessori",
    "Granite Peak Outfitters",
    "Lumen Biotech Inc",
    "Calloway Orthodontics",
    "Fernwood Property Management",
    "Silverline Software",
    "Mosaic Home Health",
    "Cedar & Stone Landscaping",
    "Beacon Street Capital",
    "Juniper Yoga Studio",
    "Kestrel Aviation Services",
    "Riverbend Animal Hospital",
    "Summit Peak Engineering",
    "Blue Heron Restaurant Group",
    "Catalina Surf Co",
    "Driftwood Coffee Roasters",
    "Evergreen Senior Living",
    "Foxglove Florals",
    "Golden Gate Physical Therapy",
    "Hawthorne Legal Services",
    "Ironwood Construction",
    "Jasper Creek Brewing",
    "Keystone Insurance Agency",
    "Larkspur Pediatrics",
    "Maplewood Dermatology",
    "Nob Hill Optometry",
    "Oakridge Charter School",
    "Pacific Rim Imports",
    "Quarry Lane Partners",
    "Rosewood Hotel Group",
    "Sagebrush Ventures",
    "Tamarack Solar",
    "Union Square Dental Arts",
    "Valencia Street Books",
    "Westlake Chiropractic",
    "Yerba Buena Media",
    "Zephyr Cycling",
    "Anchor Point Marina",
    "Brookside Pharmacy",
    "Coastal Cardiology Associates",
    "Delta Freight Brokers",
    "Elmhurst Accounting Services",
    "Fairview Auto Group",
    "Glenbrook Capital Advisors",
    "Highland Park Pilates",
    "Indigo Interiors",
    "Laurel Canyon Films",
    "Marigold Event Planning",
    "Northstar Robotics",
    "Oceanside Urgent Care",
    "Presidio Wealth Management",
    "Quicksilver Print Shop",
)
NAME_PREFIXES = (
    "Aspen",
    "Birch",
    "Cascade",
    "Dune",
    "Ember",
    "Falcon",
    "Glacier",
    "Harbor",
    "Island",
    "Juniper",
    "Kingfisher",
    "Lakeshore",
    "Mesa",
    "Nimbus",
    "Olive",
    "Prairie",
    "Quail",
    "Ridgeline",
    "Sierra",
    "Timber",
)
NAME_SUFFIXES = (
    "Dental Group",
    "Analytics",
    "Builders",
    "Partners LLC",
    "Medical Clinic",
    "Foods",
    "Labs",
    "Studio",
    "Holdings",
    "Hospitality",
    "Realty",
    "Logistics",
    "Wellness",
    "Capital",
    "Systems",
    "Law Office",
)
CONTRACTOR_FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonah")
CONTRACTOR_LAST = ("Brooks", "Castillo", "Dubois", "Eriksen", "Fujita", "Gallagher", "Haddad", "Ivanova")


def domain(firm: str) -> str:
    return "".join(ch for ch in firm.lower() if ch.isalnum()) + ".example"
