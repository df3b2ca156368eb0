"""The closed classes of words the built-in tagger decides with: titles, particles, legal suffixes, cue words.

All lower case, as the tagger compares them.
"""

# Lower-case words that belong inside a name: "Christiane de Vaan", "Vyskytná nad Jihlavou", "University of X".
PARTICLES = frozenset({"de", "van", "von", "der", "den", "la", "le", "del", "della", "da", "di", "du", "dos", "das",
                        "bin", "ibn", "al", "el", "ter", "ten", "y", "nad", "pod", "pri", "na", "of", "and", "&"})
TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "dear", "mister", "madam", "lady",
                     "lord", "rev", "fr", "sr", "jr", "hon"})
LEGAL_SUFFIXES = frozenset({"inc", "corp", "corporation", "llc", "llp", "ltd", "limited", "co", "company", "plc",
                             "gmbh", "ag", "sa", "nv", "bv", "pty", "srl", "spa", "oy", "ab", "kg", "lp", "mfg",
                             "incorporated", "sca", "sas", "asa", "kk"})
ORG_WORDS = frozenset({"group", "club", "holdings", "bank", "university", "college", "institute", "hospital", "clinic",
                        "foundation", "association", "partners", "industries", "technologies", "systems",
                        "solutions", "services", "enterprises", "agency", "trust", "laboratories", "labs",
                        "pharmaceuticals", "therapeutics", "insurance", "airlines", "motors", "bancorp",
                        "bancorporation", "society", "council", "ministry", "department", "school", "academy",
                        "church", "fund", "funds", "capital", "ventures", "research", "consulting", "properties",
                        "communications"})
# Organisation words that end a name by themselves ("Boston Consulting Group", "Equity Residential Properties
# Trust"): a run of capitalised words ending in one is an organisation even when every word is ordinary English.
ORG_ENDINGS = frozenset({"group", "club", "holdings", "bank", "foundation", "trust", "fund", "partners", "industries",
                          "technologies", "systems", "solutions", "laboratories", "pharmaceuticals", "therapeutics",
                          "airlines", "bancorp", "capital", "ventures", "research", "consulting", "properties",
                          "association"})
# Particles of a person's surname (not "of", "and": those join the words of organisations and places).
NAME_PARTICLES = frozenset({"de", "van", "von", "der", "den", "la", "le", "del", "della", "da", "di", "du", "dos",
                             "das", "bin", "ibn", "al", "el", "ter", "ten"})
PLACE_CUES = frozenset({"in", "from", "near", "visit", "visiting", "across", "around", "toward", "towards", "via",
                         "leaving", "outside", "inside", "into", "born"})
NEAR_CUES = frozenset({"to", "at"})  # as often before a person as before a place: only for a single unknown word
# Ústí nad Labem, Stratford upon Avon
PLACE_PARTICLES = frozenset({"nad", "pod", "pri", "na", "am", "sur", "upon", "on"})
# Capitalised by convention, never a person or place by themselves.
CALENDAR = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
                       "february", "march", "april", "may", "june", "july", "august", "september", "october",
                       "november", "december"})
# Words that make text title case when capitalised, and are never a name by themselves ("You" is a surname in
# the census lists, "Down" and "Will" too).
FUNCTION_WORDS = frozenset({"a", "an", "the", "and", "or", "but", "nor", "as", "at", "by", "for", "from", "in",
                             "into", "of", "off", "on", "onto", "out", "over", "to", "up", "down", "with", "via",
                             "i", "you", "he", "she", "it", "we", "they", "me", "him", "us", "them", "my", "your",
                             "his", "her", "its", "our", "their", "this", "that", "these", "those", "is", "are",
                             "was", "were", "be", "been", "will", "shall", "can", "may", "must", "not", "no",
                             "yes", "all", "any", "each", "every", "some", "now", "then", "here", "there"})
# Before a word, these make it a thing, not a person: "the Princess", "our Summer Sale".
DETERMINERS = frozenset({"a", "an", "the", "this", "that", "these", "those", "my", "your", "his", "her", "its",
                          "our", "their", "every", "each", "some", "any", "no"})
# Unit words of an address ("Ms. Crystal Walker Suite 111"): they end a name, they are not part of it.
UNIT_WORDS = frozenset({"apt", "suite", "ste", "unit", "flat", "box"})
# Degrees and generations written after a name belong to it: "Luiz Sousa MD", "Frank Ocean Jr".
POST_NOMINALS = frozenset({"md", "phd", "dds", "dvm", "rn", "esq", "jr", "sr", "ii", "iii", "iv"})
# Verbs whose subject is a person: a sentence's first word before one is a name when it is a given name or no
# English word at all ("Peter had given ...", "Darda is very reliable"), though capitals there say nothing.
PERSON_VERBS = frozenset({"is", "was", "has", "had", "said", "says", "told", "asked", "replied", "shouted",
                           "lives", "lived", "works", "worked", "spent", "began", "wrote", "met", "married"})
# Words that open a sentence before a name without being its given name, though the census lists some as names:
# verbs that ask for someone ("Call Novak", "Ask Tomaszewski") and the roles people are named by ("Patient
# Miller", "Customer Nguyen").
OPENING_WORDS = frozenset({
    "call", "ask", "tell", "welcome", "see", "hire", "page", "forward", "book", "pay", "hey", "bring", "check", "ring",
    "meet", "email", "send", "contact", "invite", "thank", "visit", "text", "remind", "add", "help", "let", "please",
    "hello", "hi", "find", "give", "take", "follow", "hear", "sign", "review", "note", "support", "hold", "phone",
    "message", "notify", "inform", "introduce", "remove", "congratulate", "thanks", "ping", "cc", "promote", "pick",
    "join", "trust", "miss", "police", "people", "ship", "bill", "charge",
    "patient", "doctor", "nurse", "customer", "client", "employee", "applicant", "member", "user", "resident",
    "tenant", "guest", "student", "teacher", "officer", "agent", "manager", "director", "president", "chairman",
    "witness", "defendant", "plaintiff", "victim", "suspect", "author", "speaker", "caller", "sender", "recipient",
    "beneficiary", "colleague", "partner", "driver", "owner", "buyer", "seller", "borrower", "lender", "claimant",
})
# Verbs of going somewhere: after one and its preposition comes a place ("arrived at Pap", "flew to WIENERING").
TRAVEL_VERBS = frozenset({"arrived", "arrive", "arrives", "arriving", "flew", "fly", "flies", "flying", "returned",
                           "return", "returns", "returning", "moved", "move", "moves", "moving", "travelled",
                           "traveled", "travel", "travelling", "traveling", "drove", "drive", "driving", "sailed",
                           "relocated", "relocating", "emigrated", "immigrated", "landed", "headed"})
# Where one goes that is no place's name, capitalised or not: "returned to Work", "went back to School".
DESTINATIONS = frozenset({"work", "school", "home", "church", "college", "office", "court", "class", "bed", "sea",
                          "town", "base", "camp", "shore", "land", "port", "sleep", "lunch", "dinner", "breakfast"})
# What a listing adds after a company's legal form: "Acquisition Corp Unit", "Furniture Companies Inc. Class A".
LISTING_WORDS = frozenset({"unit", "units", "warrant", "warrants", "rights", "class", "series", "shares"})
# Before "name", these make it a person's: "your last name? Pinto", "my name is Szöts".
NAME_QUALIFIERS = frozenset({"my", "your", "his", "her", "their", "last", "first", "full", "family", "given",
                              "maiden", "middle"})
# After a word the dictionary lacks, these make it a place: "Lovenjoel bridge is falling down".
PLACE_NOUNS = frozenset({"bridge", "river", "lake", "street", "road", "station", "airport", "harbour", "harbor",
                          "port", "bay", "valley", "mountain", "island", "county", "province", "district", "village",
                          "town", "city", "castle", "square", "beach"})
# Languages and nationalities are capitalised by convention and name no one ("translate it into Spanish"); the
# word lists know many as surnames ("English", "French") or places.
NATIONALITIES = frozenset({
    "afghan", "african", "albanian", "algerian", "american", "arab", "arabic", "argentine", "argentinian",
    "armenian", "asian", "australian", "austrian", "azerbaijani", "bangladeshi", "basque", "belarusian", "belgian",
    "bengali", "bolivian", "bosnian", "brazilian", "british", "bulgarian", "burmese", "cambodian", "canadian",
    "catalan", "chechen", "chilean", "chinese", "colombian", "croatian", "cuban", "cypriot", "czech", "danish",
    "dutch", "ecuadorian", "egyptian", "english", "estonian", "ethiopian", "european", "filipino", "finnish",
    "flemish", "french", "georgian", "german", "greek", "greenlandic", "gujarati", "hebrew", "hindi", "hungarian",
    "icelandic", "indian", "indonesian", "iranian", "iraqi", "irish", "israeli", "italian", "jamaican", "japanese",
    "jordanian", "kazakh", "kenyan", "korean", "kurdish", "latin", "latvian", "lebanese", "libyan", "lithuanian",
    "luxembourgish", "macedonian", "malay", "malaysian", "maltese", "mexican", "moldovan", "mongolian",
    "montenegrin", "moroccan", "nepali", "nigerian", "norwegian", "pakistani", "palestinian", "persian",
    "peruvian", "polish", "portuguese", "punjabi", "romanian", "russian", "saudi", "scottish", "serbian",
    "slovak", "slovenian", "somali", "spanish", "sudanese", "swahili", "swedish", "swiss", "syrian", "taiwanese",
    "tamil", "thai", "tibetan", "tunisian", "turkish", "ukrainian", "urdu", "uruguayan", "uzbek", "venezuelan",
    "vietnamese", "welsh", "yemeni",
})
