//! The situations of the need lexicon, with their phrases and weighted answers: data, read by
//! [`super::situations_in`].

use super::Situation;

macro_rules! situation {
    ($code:literal, $label:literal, [$($phrase:literal),* $(,)?], [$(($sub:literal, $w:literal)),* $(,)?]) => {
        Situation {
            code: $code,
            label_it: $label,
            phrases: &[$($phrase),*],
            answers: &[$(($sub, $w)),*],
        }
    };
}

pub(super) static SITUATIONS: &[Situation] = &[
    situation!(
        "dementia",
        "Demenza o Alzheimer",
        [
            "alzheimer",
            "alzaimer",
            "demenza",
            "demente",
            "perde la memoria",
            "non ricorda",
            "smemorato",
            "si perde",
            "confuso",
            "parkinson"
        ],
        [
            ("centro-diurno", 100),
            ("sostegno-caregiver", 90),
            ("sad", 80),
            ("assistenza-notturna", 70),
            ("sollievo", 70),
            ("telesoccorso", 50)
        ]
    ),
    situation!(
        "sleepless-nights",
        "Notti senza riposo",
        [
            "non dorme",
            "non dorme la notte",
            "non dorme di notte",
            "sveglio di notte",
            "agitato di notte",
            "si alza di notte",
            "notti insonni",
            "di notte da solo"
        ],
        [
            ("assistenza-notturna", 100),
            ("sollievo", 60),
            ("sostegno-caregiver", 50)
        ]
    ),
    situation!(
        "hospital-discharge",
        "Dimissione dall'ospedale",
        [
            "dimesso",
            "dimessa",
            "dimissione",
            "dimissioni",
            "esce dall ospedale",
            "uscito dall ospedale",
            "uscita dall ospedale",
            "dopo il ricovero",
            "torna a casa dall ospedale",
            "dopo l operazione",
            "dopo l intervento"
        ],
        [
            ("adi", 100),
            ("infermieristica", 90),
            ("fisioterapia", 80),
            ("sad", 70),
            ("trasporto-sanitario", 60),
            ("ausili", 60),
            ("pasti-a-domicilio", 50)
        ]
    ),
    situation!(
        "living-alone",
        "Vive da solo",
        [
            "vive solo",
            "vive sola",
            "vive da solo",
            "vive da sola",
            "vivo solo",
            "vivo sola",
            "vivo da solo",
            "vivo da sola",
            "abita da solo",
            "abita da sola",
            "è rimasto solo",
            "è rimasta sola",
            "rimasta vedova",
            "rimasto vedovo",
            "sempre solo",
            "sempre sola"
        ],
        [
            ("compagnia-anziani", 100),
            ("telesoccorso", 90),
            ("animazione-anziani", 70),
            ("pasti-a-domicilio", 60),
            ("sad", 50),
            ("spesa-a-domicilio", 50)
        ]
    ),
    situation!(
        "loneliness",
        "Solitudine",
        [
            "solitudine",
            "si sente solo",
            "si sente sola",
            "mi sento solo",
            "mi sento sola",
            "nessuno con cui parlare",
            "parlare con qualcuno"
        ],
        [
            ("compagnia-anziani", 100),
            ("animazione-anziani", 80),
            ("sportello-ascolto", 70),
            ("gruppi-auto-mutuo-aiuto", 50)
        ]
    ),
    situation!(
        "no-longer-driving",
        "Non guida più",
        [
            "non guida più",
            "non guida piu",
            "non può più guidare",
            "non puo piu guidare",
            "senza patente",
            "non ha la macchina",
            "non ho la macchina",
            "non ha l auto",
            "un passaggio",
            "mi porti",
            "lo porti",
            "la porti",
            "chi lo accompagna",
            "chi la accompagna"
        ],
        [
            ("trasporto-anziani", 100),
            ("accompagnamento-visite", 90),
            ("trasporto-disabili", 60)
        ]
    ),
    situation!(
        "cancer-treatment",
        "Terapie oncologiche o dialisi",
        [
            "radioterapia",
            "chemioterapia",
            "chemio",
            "dialisi",
            "tumore",
            "cancro",
            "oncologico",
            "oncologia"
        ],
        [
            ("accompagnamento-visite", 100),
            ("supporto-psicologico", 70),
            ("cure-palliative", 60),
            ("trasporto-sanitario", 60),
            ("sostegno-caregiver", 50)
        ]
    ),
    situation!(
        "end-of-life",
        "Malattia inguaribile, fine vita",
        [
            "malato terminale",
            "fine vita",
            "ultimi giorni",
            "non c è più niente da fare",
            "inguaribile",
            "morente"
        ],
        [
            ("cure-palliative", 100),
            ("sostegno-caregiver", 80),
            ("sostegno-lutto", 60),
            ("infermieristica", 60)
        ]
    ),
    situation!(
        "grief",
        "Lutto",
        [
            "lutto",
            "è morto",
            "è morta",
            "morte di",
            "ho perso mio",
            "ho perso mia",
            "abbiamo perso",
            "scomparsa di",
            "è mancato",
            "è mancata",
            "vedova",
            "vedovo"
        ],
        [
            ("sostegno-lutto", 100),
            ("supporto-psicologico", 80),
            ("gruppi-auto-mutuo-aiuto", 70),
            ("compagnia-anziani", 40)
        ]
    ),
    situation!(
        "separation",
        "Separazione o divorzio",
        [
            "separazione",
            "separati",
            "ci separiamo",
            "ci stiamo separando",
            "divorzio",
            "divorziare",
            "affido dei figli",
            "ex marito",
            "ex moglie"
        ],
        [
            ("mediazione-familiare", 100),
            ("sostegno-genitorialita", 70),
            ("supporto-psicologico", 60)
        ]
    ),
    situation!(
        "teen-distress",
        "Un ragazzo o una ragazza in difficoltà",
        [
            "sempre triste",
            "è triste",
            "triste",
            "si chiude in camera",
            "non esce più",
            "non mangia",
            "si taglia",
            "autolesionismo",
            "bullismo",
            "bullizzato",
            "bullizzata",
            "non vuole andare a scuola",
            "ritirato",
            "adolescente difficile"
        ],
        [
            ("psicologo-eta-evolutiva", 100),
            ("sportello-ascolto", 70),
            ("sostegno-genitorialita", 60),
            ("supporto-psicologico", 40)
        ]
    ),
    situation!(
        "school-difficulty",
        "Difficoltà a scuola",
        [
            "va male a scuola",
            "difficoltà a scuola",
            "difficolta a scuola",
            "bocciato",
            "bocciata",
            "non riesce a leggere",
            "non capisce la matematica",
            "brutti voti",
            "insufficienze",
            "debiti",
            "recupero"
        ],
        [
            ("valutazione-dsa", 100),
            ("ripetizioni", 90),
            ("doposcuola", 80),
            ("psicologo-eta-evolutiva", 50)
        ]
    ),
    situation!(
        "speech-delay",
        "Ritardo del linguaggio",
        [
            "non parla",
            "parla poco",
            "parla male",
            "non parla ancora",
            "balbetta",
            "pronuncia male",
            "ritardo del linguaggio"
        ],
        [("logopedia", 100), ("neuropsicomotricita", 70)]
    ),
    situation!(
        "developmental-delay",
        "Ritardo dello sviluppo o autismo",
        [
            "autistico",
            "autistica",
            "spettro autistico",
            "ritardo nello sviluppo",
            "non cammina ancora",
            "goffo",
            "iperattivo",
            "iperattiva"
        ],
        [
            ("neuropsicomotricita", 100),
            ("logopedia", 70),
            ("psicologo-eta-evolutiva", 60),
            ("assistenza-scolastica-disabili", 50)
        ]
    ),
    situation!(
        "disabled-child-school",
        "Un alunno con disabilità",
        [
            "insegnante di sostegno",
            "alunno disabile",
            "figlio disabile",
            "figlia disabile",
            "legge 104",
            "certificato 104",
            "ha la 104",
            "non ha l educatore",
            "educatore a scuola",
            "nessuno lo aiuta a scuola"
        ],
        [
            ("assistenza-scolastica-disabili", 100),
            ("trasporto-scolastico-disabili", 90),
            ("sadh", 60),
            ("educativa-domiciliare", 50)
        ]
    ),
    situation!(
        "cannot-walk",
        "Non cammina, non esce di casa",
        [
            "non cammina",
            "non cammina più",
            "allettato",
            "allettata",
            "a letto",
            "è in carrozzina",
            "sta in carrozzina",
            "va in carrozzina",
            "non esce di casa",
            "non può uscire",
            "non puo uscire",
            "è caduto",
            "è caduta",
            "frattura del femore",
            "rotto il femore"
        ],
        [
            ("ausili", 90),
            ("fisioterapia", 90),
            ("sad", 80),
            ("infermieristica", 60),
            ("trasporto-disabili", 60),
            ("visite-mediche-domicilio", 60)
        ]
    ),
    situation!(
        "fear-of-falling",
        "Paura di cadere da solo in casa",
        [
            "paura di cadere",
            "se cade",
            "cade spesso",
            "se si sente male",
            "se sto male",
            "se mi sento male",
            "se sta male di notte",
            "nessuno se ne accorge"
        ],
        [
            ("telesoccorso", 100),
            ("compagnia-anziani", 60),
            ("attivita-fisica-adattata", 50)
        ]
    ),
    situation!(
        "cannot-cook",
        "Non riesce a cucinare",
        [
            "non cucina",
            "non riesce a cucinare",
            "non riesce più a cucinare",
            "non cucina più",
            "non sa cucinare",
            "mangia male",
            "non mangia bene",
            "salta i pasti",
            "non si prepara da mangiare"
        ],
        [
            ("pasti-a-domicilio", 100),
            ("spesa-a-domicilio", 60),
            ("dietista", 40)
        ]
    ),
    situation!(
        "cannot-shop",
        "Non riesce a fare la spesa",
        [
            "porti la spesa",
            "portare la spesa",
            "fare la spesa",
            "non riesce a fare la spesa",
            "portarle la spesa",
            "portargli la spesa",
            "la spesa a mia",
            "la spesa a mio"
        ],
        [
            ("spesa-a-domicilio", 100),
            ("farmaci-a-domicilio", 60),
            ("trasporto-anziani", 40)
        ]
    ),
    situation!(
        "personal-hygiene",
        "Aiuto per lavarsi e vestirsi",
        [
            "lavarsi",
            "fare il bagno",
            "fare la doccia",
            "vestirsi",
            "non si lava",
            "igiene",
            "cambiare il pannolone",
            "incontinente",
            "incontinenza"
        ],
        [("sad", 100), ("sadh", 70), ("adi", 60)]
    ),
    situation!(
        "caregiver-exhausted",
        "Chi assiste è stanco",
        [
            "sono stanca",
            "sono stanco",
            "non ce la faccio più",
            "non ce la faccio piu",
            "sono esausta",
            "sono esausto",
            "mi occupo di mia madre",
            "mi occupo di mio padre",
            "assisto mia madre",
            "assisto mio padre",
            "un po di riposo",
            "staccare"
        ],
        [
            ("sollievo", 100),
            ("sostegno-caregiver", 100),
            ("centro-diurno", 70),
            ("gruppi-auto-mutuo-aiuto", 60),
            ("sad", 50)
        ]
    ),
    situation!(
        "need-a-carer",
        "Serve una badante",
        [
            "cerco una badante",
            "trovare una badante",
            "assumere una badante",
            "una badante fissa",
            "badante convivente",
            "badante in regola"
        ],
        [("sportello-badanti", 100), ("sad", 70)]
    ),
    situation!(
        "summer-childcare",
        "I figli a casa da scuola",
        [
            "chiusura della scuola",
            "vacanze estive",
            "d estate",
            "in estate",
            "scuole chiuse",
            "lavoriamo tutti e due",
            "lavoro fino alle",
            "chi tiene i bambini"
        ],
        [
            ("centro-estivo", 100),
            ("baby-sitting", 80),
            ("doposcuola", 60),
            ("laboratori", 40)
        ]
    ),
    situation!(
        "new-baby",
        "Gravidanza e nuovo nato",
        [
            "incinta",
            "aspetto un bambino",
            "aspettiamo un bambino",
            "appena nato",
            "neonato",
            "neonata",
            "partorito",
            "allattare",
            "neomamma",
            "neomamme",
            "neo mamma",
            "neo mamme"
        ],
        [
            ("ostetrica-consultorio", 100),
            ("spazio-gioco", 60),
            ("asilo-nido", 60),
            ("sostegno-genitorialita", 50)
        ]
    ),
    situation!(
        "parenting-trouble",
        "Difficoltà con i figli",
        [
            "non so come comportarmi",
            "non ci ascolta",
            "fa i capricci",
            "capricci",
            "adottato",
            "adottata",
            "in difficoltà con i figli",
            "ci sentiamo in difficoltà",
            "urla sempre",
            "litighiamo sempre",
            "regole ai figli"
        ],
        [
            ("sostegno-genitorialita", 100),
            ("educativa-domiciliare", 70),
            ("psicologo-eta-evolutiva", 60)
        ]
    ),
    situation!(
        "violence",
        "Violenza in famiglia",
        [
            "mi picchia",
            "mi maltratta",
            "mi minaccia",
            "violenza",
            "violento",
            "ho paura di lui",
            "maltrattamenti",
            "stalking"
        ],
        [
            ("centro-antiviolenza", 100),
            ("sportello-ascolto", 60),
            ("supporto-psicologico", 50)
        ]
    ),
    situation!(
        "addiction",
        "Dipendenze",
        [
            "beve troppo",
            "beve",
            "ubriaco",
            "si droga",
            "droga",
            "gioca alle slot",
            "slot machine",
            "gratta e vinci",
            "scommesse",
            "gioca d azzardo",
            "azzardo",
            "sempre al telefono"
        ],
        [
            ("dipendenze", 100),
            ("gruppi-auto-mutuo-aiuto", 70),
            ("supporto-psicologico", 50)
        ]
    ),
    situation!(
        "anxiety",
        "Ansia, stress, tristezza",
        [
            "ansia",
            "attacchi di panico",
            "panico",
            "stressato",
            "stressata",
            "depresso",
            "depressa",
            "giù di morale",
            "esaurimento",
            "non ce la faccio"
        ],
        [
            ("supporto-psicologico", 100),
            ("sportello-ascolto", 70),
            ("gruppi-auto-mutuo-aiuto", 50)
        ]
    ),
    situation!(
        "poverty",
        "Difficoltà economiche",
        [
            "non arrivo a fine mese",
            "non arriviamo a fine mese",
            "senza soldi",
            "non ho soldi",
            "non ha soldi",
            "non abbiamo soldi",
            "ho perso il lavoro",
            "disoccupato",
            "disoccupata",
            "sfratto",
            "sfrattato",
            "sfrattata",
            "sfrattati",
            "bollette da pagare",
            "non riesco a pagare",
            "povertà"
        ],
        [
            ("emporio-solidale", 100),
            ("mensa-sociale", 90),
            ("segretariato-sociale", 90)
        ]
    ),
    situation!(
        "hungry",
        "Non ha da mangiare",
        [
            "non ho da mangiare",
            "non ho dove mangiare",
            "non ha da mangiare",
            "non hanno da mangiare",
            "un pasto caldo",
            "salto i pasti per i figli"
        ],
        [
            ("mensa-sociale", 100),
            ("emporio-solidale", 80),
            ("segretariato-sociale", 60)
        ]
    ),
    situation!(
        "newcomer",
        "Da poco in Italia",
        [
            "non parla italiano",
            "non parlo italiano",
            "parla poco italiano",
            "straniero",
            "straniera",
            "appena arrivato in italia",
            "permesso di soggiorno",
            "rifugiato"
        ],
        [("mediazione-culturale", 100), ("segretariato-sociale", 70)]
    ),
    situation!(
        "digital-trouble",
        "Difficoltà con SPID e internet",
        [
            "non so usare",
            "non sa usare",
            "non ha lo spid",
            "fare lo spid",
            "non ho lo spid",
            "prenotare su internet",
            "non ha il computer",
            "password"
        ],
        [("facilitazione-digitale", 100), ("pratiche-e-posta", 50)]
    ),
    situation!(
        "home-chores",
        "Lavori di casa e giardino",
        [
            "tagliare l erba",
            "taglio dell erba",
            "tagli l erba",
            "taglia l erba",
            "l erba",
            "il prato",
            "il giardino",
            "cambiare la lampadina",
            "perde il rubinetto",
            "aggiustare",
            "montare",
            "appendere",
            "lavori in casa"
        ],
        [("piccole-riparazioni", 100)]
    ),
    situation!(
        "laundry",
        "Bucato e stiro",
        [
            "lavare i panni",
            "stirare",
            "il bucato",
            "lavatrice",
            "panni sporchi"
        ],
        [("lavanderia", 100)]
    ),
    situation!(
        "pet",
        "Un animale da accudire",
        [
            "il cane",
            "il gatto",
            "portare fuori il cane",
            "dar da mangiare al gatto",
            "cane da portare fuori",
            "animale"
        ],
        [("cura-animali", 100)]
    ),
    situation!(
        "medicines",
        "Farmaci e ricette",
        [
            "ricette",
            "ritirare le ricette",
            "le medicine",
            "i farmaci",
            "medicinali",
            "pastiglie"
        ],
        [("farmaci-a-domicilio", 100), ("servizi-farmacia", 50)]
    ),
    situation!(
        "paperwork",
        "Pratiche e pagamenti",
        [
            "pagare le bollette",
            "ritirare la pensione",
            "andare in posta",
            "andare in comune",
            "fare una pratica",
            "moduli",
            "raccomandata",
            "isee da fare",
            "fare l isee"
        ],
        [
            ("pratiche-e-posta", 100),
            ("segretariato-sociale", 70),
            ("facilitazione-digitale", 50)
        ]
    ),
    situation!(
        "chronic-pain",
        "Dolori e movimento",
        [
            "mal di schiena",
            "dolori",
            "artrosi",
            "osteoporosi",
            "rigido",
            "non si muove",
            "muoversi un po",
            "tenersi in forma"
        ],
        [("attivita-fisica-adattata", 100), ("fisioterapia", 80)]
    ),
    situation!(
        "feet",
        "Problemi ai piedi",
        [
            "unghie dei piedi",
            "tagliare le unghie",
            "calli",
            "piedi",
            "diabetico"
        ],
        [("podologia", 100), ("infermieristica", 30)]
    ),
    situation!(
        "holiday",
        "Una vacanza",
        [
            "vacanza",
            "al mare",
            "in montagna",
            "alle terme",
            "cambiare aria"
        ],
        [("soggiorni-climatici", 100)]
    ),
    situation!(
        "disabled-adult-future",
        "Il futuro di un figlio con disabilità",
        [
            "dopo di noi",
            "quando non ci saremo più",
            "figlio disabile adulto",
            "vivere da solo con la disabilità",
            "autonomia"
        ],
        [
            ("vita-indipendente", 100),
            ("sadh", 60),
            ("centro-diurno", 50)
        ]
    ),
];
