"""Words and phrases the sample-data generator builds reviews from.

Each category has words typical of it; related categories sit in one group and lend each other
words, so the generated text is learnable but not trivially separable (as in real reviews, where a
Kindle book and a paperback are described alike).
"""

GROUPS: dict[str, list[str]] = {
    "reading": ["Books", "Digital_Ebook_Purchase"],
    "video": ["Video_DVD", "Digital_Video_Download", "Video", "Home_Entertainment"],
    "music": ["Music", "Digital_Music_Purchase", "Musical_Instruments"],
    "software": ["Software", "Digital_Software", "Mobile_Apps", "PC"],
    "games": ["Video_Games", "Digital_Video_Games", "Toys"],
    "electronics": ["Electronics", "Camera", "Wireless", "Mobile_Electronics", "Watches"],
    "home": ["Home", "Kitchen", "Furniture", "Major_Appliances", "Home_Improvement", "Tools", "Lawn_and_Garden"],
    "style": ["Apparel", "Shoes", "Jewelry", "Luggage"],
    "care": ["Beauty", "Health_&_Personal_Care", "Personal_Care_Appliances", "Baby"],
    "active": ["Sports", "Outdoors", "Automotive"],
    "everyday": ["Grocery", "Pet_Products", "Office_Products", "Gift_Card"],
}

WORDS: dict[str, list[str]] = {
    "Books": ["novel", "author", "chapters", "plot", "characters", "paperback", "hardcover", "storyline", "writing", "biography"],
    "Digital_Ebook_Purchase": ["kindle", "ebook", "series", "romance", "author", "download", "novella", "cliffhanger", "pages", "heroine"],
    "Video_DVD": ["dvd", "movie", "film", "actors", "disc", "season", "director", "boxed set", "subtitles", "acting"],
    "Digital_Video_Download": ["streaming", "episode", "movie", "prime video", "rental", "hd", "buffering", "watch", "actors", "season pass"],
    "Video": ["vhs", "tape", "documentary", "film", "footage", "narration", "classic", "cassette", "widescreen", "screenplay"],
    "Home_Entertainment": ["tv", "soundbar", "remote", "projector", "speakers", "hdmi", "receiver", "subwoofer", "picture", "surround"],
    "Music": ["album", "cd", "songs", "band", "lyrics", "tracks", "vocals", "guitar riffs", "live recording", "remastered"],
    "Digital_Music_Purchase": ["mp3", "song", "track", "download", "playlist", "single", "beat", "artist", "chorus", "remix"],
    "Musical_Instruments": ["guitar", "strings", "amp", "pedal", "tuner", "drum", "keyboard", "microphone", "frets", "pick"],
    "Software": ["software", "install", "license", "windows", "upgrade", "program", "activation", "antivirus", "version", "tax return"],
    "Digital_Software": ["download", "license key", "subscription", "activation", "installer", "software", "cloud", "update", "account", "mac"],
    "Mobile_Apps": ["app", "ads", "game", "kindle fire", "free", "level", "notifications", "crashes", "in-app purchases", "tablet"],
    "PC": ["laptop", "keyboard", "mouse", "monitor", "ssd", "usb", "graphics card", "ram", "router", "desktop"],
    "Video_Games": ["game", "controller", "xbox", "playstation", "graphics", "multiplayer", "console", "gameplay", "levels", "nintendo"],
    "Digital_Video_Games": ["download code", "steam", "dlc", "game", "online", "pc game", "expansion", "key", "servers", "save file"],
    "Toys": ["toy", "kids", "lego", "doll", "puzzle", "board game", "my son", "my daughter", "batteries", "playset"],
    "Electronics": ["cable", "charger", "headphones", "battery", "adapter", "bluetooth", "speaker", "hdmi", "volume", "usb"],
    "Camera": ["camera", "lens", "photos", "tripod", "zoom", "flash", "sd card", "shutter", "dslr", "focus"],
    "Wireless": ["phone", "case", "screen protector", "charger", "iphone", "samsung", "signal", "cell", "holster", "sim"],
    "Mobile_Electronics": ["car stereo", "dash cam", "gps", "radio", "speakers", "antenna", "amplifier", "satellite", "marine", "head unit"],
    "Watches": ["watch", "band", "strap", "dial", "wrist", "clasp", "crystal", "quartz", "bezel", "timepiece"],
    "Home": ["curtains", "sheets", "pillow", "rug", "decor", "towels", "blanket", "lamp", "comforter", "frame"],
    "Kitchen": ["pan", "knife", "blender", "coffee", "skillet", "cookware", "dishwasher safe", "mug", "recipes", "kettle"],
    "Furniture": ["chair", "desk", "table", "assembly", "drawer", "shelf", "mattress", "cushion", "bed frame", "sofa"],
    "Major_Appliances": ["refrigerator", "washer", "dryer", "freezer", "range", "ice maker", "dishwasher", "installation", "compressor", "oven"],
    "Home_Improvement": ["faucet", "light bulbs", "paint", "installation", "fixture", "plumbing", "drywall", "switch", "door", "hardware"],
    "Tools": ["drill", "saw", "wrench", "bits", "cordless", "screwdriver", "socket", "blade", "torque", "clamp"],
    "Lawn_and_Garden": ["garden", "hose", "mower", "plants", "seeds", "weeds", "sprinkler", "yard", "soil", "bird feeder"],
    "Apparel": ["shirt", "dress", "fabric", "sleeves", "waist", "jeans", "fit", "cotton", "jacket", "hoodie"],
    "Shoes": ["shoes", "sneakers", "boots", "heel", "insole", "size", "arch support", "sandals", "laces", "toe"],
    "Jewelry": ["necklace", "earrings", "ring", "bracelet", "silver", "pendant", "chain", "gold", "stone", "sparkle"],
    "Luggage": ["suitcase", "luggage", "backpack", "wheels", "carry-on", "zipper", "handle", "airport", "compartments", "travel bag"],
    "Beauty": ["lotion", "shampoo", "skin", "makeup", "scent", "hair", "moisturizer", "lipstick", "conditioner", "nail polish"],
    "Health_&_Personal_Care": ["vitamins", "supplement", "capsules", "dosage", "toothbrush", "pills", "blood pressure", "protein", "immune", "allergies"],
    "Personal_Care_Appliances": ["razor", "shaver", "trimmer", "hair dryer", "flat iron", "epilator", "electric toothbrush", "blades", "charge", "massager"],
    "Baby": ["baby", "diaper", "stroller", "crib", "bottle", "infant", "car seat", "pacifier", "toddler", "nursery"],
    "Sports": ["bike", "workout", "yoga mat", "gym", "ball", "fitness", "weights", "helmet", "running", "resistance bands"],
    "Outdoors": ["tent", "camping", "hiking", "flashlight", "knife", "fishing", "backpacking", "sleeping bag", "trail", "cooler"],
    "Automotive": ["car", "truck", "engine", "wipers", "headlight", "tire", "oil", "floor mats", "brake", "vehicle"],
    "Grocery": ["coffee", "tea", "snack", "flavor", "chocolate", "taste", "cereal", "sugar", "organic", "sauce"],
    "Pet_Products": ["dog", "cat", "litter", "leash", "treats", "collar", "puppy", "kitten", "chew toy", "aquarium"],
    "Office_Products": ["printer", "ink", "pens", "paper", "stapler", "toner", "cartridge", "labels", "notebook", "calendar"],
    "Gift_Card": ["gift card", "gift", "birthday", "card", "balance", "redeem", "present", "recipient", "email delivery", "denomination"],
}

SENTENCE_TEMPLATES = [
    "The {a} is exactly what I needed.",
    "I bought this {a} for my husband and he loves the {b}.",
    "After two weeks the {a} stopped working.",
    "Great {a}, and the {b} is better than expected.",
    "The {a} arrived quickly and the {b} was well packed.",
    "I was disappointed with the {a}; the {b} feels cheap.",
    "Would definitely recommend this {a} to anyone looking for a good {b}.",
    "My second {a} from this seller, and the {b} is still perfect.",
    "Compared to my old {a}, the {b} here is a big improvement.",
    "Not sure about the {a} yet, but the {b} seems fine.",
    "The description of the {a} was accurate and the {b} matches.",
    "Returned the {a} because the {b} did not work for me.",
]

GENERIC_SENTENCES = [
    "Great product.", "Works as described.", "Five stars.", "Would buy again.", "Fast shipping.",
    "Not worth the money.", "Exactly as pictured.", "Very happy with this purchase.", "It does the job.",
    "Quality could be better.", "Highly recommend!", "Arrived on time and well packaged.",
    "Excellent value for the price.", "I love it.", "Broke after a month.", "Customer service was helpful.",
    "My wife uses it every day.", "Perfect gift.", "Better than I expected.", "Meh, it's okay.",
    "So disappointed.", "Ten year old loved it.", "Cheap but works fine.", "The color is nice.",
    "Bought it on sale.", "Does what it says.", "Would give zero stars if I could.",
]

NON_ASCII = ["Très bien!", "“Perfect” — just perfect.", "Muy bueno 👍", "Naïve design, but it works…",
             "Excelente calidad ★★★★★", "Größe passt.", "☺ happy customer"]

# One of these closes most reviews, chosen by the review's star rating (sentiment from stars: 1-2, 3, 4-5).
SENTIMENT_SENTENCES = {
    "negative": ["Stopped working within a week and the refund took forever.", "Flimsy, overpriced and a waste.",
                 "I regret buying this, it fell apart.", "Nothing like the description, sending it back.",
                 "Terrible experience from start to finish.", "Poorly made and it arrived damaged.",
                 "Avoid this one, it failed on the first day.", "Worst purchase I have made in years."],
    "neutral": ["It is fine, nothing special either way.", "Average quality for an average price.",
                "Some things I like, some I do not.", "It works, but I expected a little more.",
                "Decent enough, though there are better options.", "Not great, not terrible.",
                "Mixed feelings after a few weeks of use.", "Okay for now, we will see how it holds up."],
    "positive": ["Absolutely love it, worth every penny.", "Fantastic quality, I would buy it again.",
                 "Exceeded my expectations in every way.", "Wonderful, the whole family is thrilled.",
                 "Sturdy, well made and a joy to use.", "Best purchase this year, highly recommended.",
                 "Works beautifully and looks great.", "Delighted with it, five stars from me."],
}

SHORT_BODIES = ["Great!", "Love it", "ok", "Good", "Nice.", "A+", "Meh", "Perfect!!"]

HEADLINES = ["Five Stars", "Great", "Love it", "Disappointed", "Works well", "Not bad", "One Star",
             "As expected", "Highly recommended", "Good value"]

ADJECTIVES = ["Premium", "Classic", "Deluxe", "Compact", "Pro", "Essential", "Ultra", "Original"]
