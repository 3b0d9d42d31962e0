"""The public sources of edge_bml's data and the facts needed to prepare them identically."""

from __future__ import annotations

CCP_REPO = "bearpaw/clothing-co-parsing"
CCP_COMMIT = "fe34fb77721a9973fbae92c05f7f12b664d10110"
CLOTHING_REPO = "alexeygrigorev/clothing-dataset"
CLOTHING_COMMIT = "7ed86a9cc56763b6acb35e41cb35184e43a5d218"
GITHUB_ARCHIVE = "https://github.com/{repo}/archive/{commit}.zip"

# The 200 annotated CCP photos kept apart as an independent test set (not in shared/data).
CCP_HELD_OUT = frozenset(
    int(v)
    for v in """
1,10,15,26,29,33,38,39,40,42,43,57,63,69,77,83,86,94,96,105,106,107,109,119,132,134,137,139,140,142,147,157,162,171,
181,182,186,188,201,206,210,217,220,227,231,243,253,259,260,263,267,268,269,273,278,282,286,295,299,301,302,304,331,
332,333,341,347,348,351,354,361,368,375,378,381,395,404,406,407,408,413,416,418,427,431,439,441,442,444,448,452,456,
457,462,464,470,471,476,487,505,506,507,512,523,528,532,533,539,544,546,549,556,557,566,568,570,576,577,583,584,587,
588,596,598,606,609,616,617,620,622,623,626,630,633,636,638,639,642,643,644,645,648,652,655,658,662,669,677,679,688,
710,712,716,727,730,739,744,749,751,771,781,782,787,792,794,798,799,801,806,808,811,812,819,822,842,846,848,854,857,
875,877,889,898,910,923,928,929,938,944,945,957,959,964,967,970,978,979,987,997,1004""".replace("\n", "").split(",")
)

CCP_CATEGORIES = {
    "top": ["blouse", "shirt", "t-shirt", "top", "sweater", "sweatshirt", "hoodie", "bodysuit", "vest"],
    "outerwear": ["coat", "jacket", "blazer", "cape", "cardigan", "suit"],
    "dress": ["dress", "romper", "jumper"],
    "pants": ["pants", "jeans", "leggings"],
    "shorts": ["shorts"],
    "skirt": ["skirt"],
    "footwear": ["shoes", "boots", "sandals", "heels", "pumps", "sneakers", "loafers", "flats", "wedges", "clogs"],
    "bag": ["bag", "purse", "wallet"],
    "hat": ["hat"],
    "eyewear": ["sunglasses", "glasses"],
    "belt": ["belt"],
    "scarf": ["scarf"],
}
CCP_BOX_RULE = (
    "one box per category for the union of its components (components under 3% of the category's pixels "
    "dropped); footwear: one box per shoe (the 2 largest components)"
)
CCP_TAGGED_HEIGHT = 480

CLOTHING_DROPPED = frozenset({"Not sure", "Skip", "Other"})
CLOTHING_CATEGORY = {
    "T-Shirt": "top",
    "Longsleeve": "top",
    "Shirt": "top",
    "Polo": "top",
    "Undershirt": "top",
    "Hoodie": "top",
    "Body": "top",
    "Top": "top",
    "Blouse": "top",
    "Pants": "pants",
    "Shoes": "footwear",
    "Dress": "dress",
    "Outwear": "outerwear",
    "Blazer": "outerwear",
    "Shorts": "shorts",
    "Hat": "hat",
    "Skirt": "skirt",
}
CLOTHING_MAX_SIDE = 256
