"""Online story clustering (newswatch.cluster): grouping, merges, window, state round trip."""

from __future__ import annotations

import pickle
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson
import pytest

from newswatch import cluster_slots as slot
from newswatch.cluster import Assignment, Clusterer, ClusterInput, Params, story_features
from newswatch.cluster_params import SHAPE
from newswatch.cluster_types import PackedFeatures

REPO = Path(__file__).resolve().parent.parent
SEEDS = sorted((REPO / "seeds").glob("*.txt"))
ECB = REPO / "benchmarks" / "data" / "ecbplus.jsonl"
DAY0 = "2025-03-18T12:00:00Z"


def story(sid: str, text: str, title: str | None = None, published: str | None = DAY0,
          fetched: str | None = None, source: str = "test") -> ClusterInput:
    fetched = fetched or published or DAY0
    if title is None:
        title, _, text = text.partition("\n")
    return ClusterInput(sid, title, text, source, published, fetched)


def background(n: int = 60) -> list[ClusterInput]:
    """Unrelated real news (ECB+ dev split) so IDF is not computed from two documents."""
    with ECB.open("rb") as f:
        docs = [d for d in map(orjson.loads, f) if d["split"] == "dev"][:n]
    return [story(f"bg{i}", d["text"], d["title"]) for i, d in enumerate(docs)]


def warm(c: Clusterer, n: int = 60) -> None:
    for x in background(n):
        c.add(x)


CEASEFIRE_A = """Sudan army and RSF agree to 72-hour ceasefire in Khartoum
The Sudanese army and the paramilitary Rapid Support Forces agreed on Sunday to a 72-hour
ceasefire in Khartoum, mediators in Jeddah said, after 14 days of fighting that killed at
least 420 people. General Abdel Fattah al-Burhan and RSF commander Mohamed Hamdan Dagalo
accepted the truce proposed by Saudi Arabia and the United States, Saudi foreign minister
Faisal bin Farhan said. Residents of Omdurman reported sporadic gunfire near the airport.
The ceasefire is meant to open humanitarian corridors for aid convoys, the mediators said."""

CEASEFIRE_B = """Armenia and Azerbaijan agree ceasefire in Nagorno-Karabakh after clashes
Armenia and Azerbaijan agreed on Thursday to a ceasefire in Nagorno-Karabakh brokered by
Russia, after two days of fighting that left 95 soldiers dead, Moscow said. Prime Minister
Nikol Pashinyan told parliament in Yerevan that the truce took effect at 8 p.m., while
President Ilham Aliyev said in Baku that Azerbaijani forces had taken positions near Lachin.
Russian peacekeepers will monitor the ceasefire line, the Kremlin said in a statement."""

FLOOD = """Flash floods kill 12 in Valencia as rivers burst their banks
Flash floods swept through towns south of Valencia on Tuesday, killing 12 people and cutting
power to 40,000 homes, regional president Carlos Mazon said. Rescue teams in Paiporta and
Alfafar used boats to reach residents trapped on rooftops as the Turia and Poyo rivers burst
their banks after 300 litres of rain per square metre fell in eight hours."""

QUAKE = """Earthquake of magnitude 6.1 strikes eastern Turkey near Malatya
An earthquake of magnitude 6.1 struck eastern Turkey near Malatya on Tuesday, damaging
mosques and apartment blocks in Elazig and Adiyaman, the disaster agency AFAD said. Interior
Minister Ali Yerlikaya said 37 people were injured and search teams were checking collapsed
buildings in Pütürge district. Aftershocks were felt as far away as Diyarbakir."""


def test_near_duplicates_share_a_cluster() -> None:
    c = Clusterer()
    warm(c)
    a = c.add(story("a", CEASEFIRE_A))
    edited = CEASEFIRE_A.replace("Sunday", "Sunday night").replace("said.", "said on Monday.")
    b = c.add(story("b", edited + "\nMore follows.", source="other"))
    assert a.cluster_id == "a"  # a new cluster is named after its first story
    assert b.cluster_id == a.cluster_id
    assert b.merged == []


@pytest.mark.parametrize("warmup", [0, 60])
def test_the_two_seed_reports_share_a_cluster(warmup: int) -> None:
    assert len(SEEDS) == 2
    c = Clusterer()
    warm(c, warmup)
    got = [c.add(story(p.stem, p.read_text(encoding="utf-8"))).cluster_id for p in SEEDS]
    assert got[0] == got[1]
    # also when the caller has no title and no date for them
    c = Clusterer()
    warm(c, warmup)
    got = [c.add(story(p.stem, p.read_text(encoding="utf-8"), title="", published=None)).cluster_id
           for p in SEEDS]
    assert got[0] == got[1]


def test_two_ceasefires_in_different_countries_stay_apart() -> None:
    c = Clusterer()
    warm(c)
    a = c.add(story("sudan", CEASEFIRE_A))
    b = c.add(story("karabakh", CEASEFIRE_B))
    assert a.cluster_id != b.cluster_id


def test_unrelated_stories_stay_apart() -> None:
    c = Clusterer()
    warm(c)
    ids = {c.add(story(k, t)).cluster_id for k, t in
           (("s", CEASEFIRE_A), ("f", FLOOD), ("q", QUAKE), ("k", CEASEFIRE_B))}
    assert len(ids) == 4


# Stories in other scripts: words of any alphabet count, Chinese and Japanese by character
# pairs, so a shared date alone never makes one event of them.
DATE_ONLY = [
    ("zh-quake", "四川发生地震",
     "2025年3月18日，四川省发生6级地震，造成12人死亡，救援工作正在进行。"),
    ("zh-rates", "央行宣布降息",
     "2025年3月18日，中国人民银行宣布下调贷款利率，以支持经济增长。"),
    ("ja-sport", "大谷翔平が本塁打",
     "2025年3月18日、大谷翔平選手が東京ドームで本塁打を打ちました。"),
    ("ar-vote", "الانتخابات في مصر",
     "في 18 مارس 2025 أدلى الناخبون في مصر بأصواتهم في الانتخابات البرلمانية."),
]
ZH_QUAKE = [
    ("zh-a", "四川发生6级地震",
     "3月18日，四川省甘孜州发生6级地震，造成12人死亡，"
     "救援队伍正在废墟中搜救被困人员。"),
    ("zh-b", "四川甘孜地震已致12人遇难",
     "四川省甘孜州18日发生6级地震，目前已造成12人遇难，"
     "救援队伍连夜在废墟中搜救。"),
]
RU = [
    ("ru-a", "Россия и Украина обменялись пленными",
     "Россия и Украина в среду провели обмен пленными: домой вернулись украинские и "
     "российские военные, сообщило Министерство обороны России. Посредником в обмене "
     "выступили Объединённые Арабские Эмираты."),
    ("ru-b", "Москва и Киев провели обмен военнопленными",
     "В среду Россия и Украина обменялись пленными, заявило Министерство обороны России. "
     "Обмен прошёл при посредничестве Объединённых Арабских Эмиратов."),
    ("ru-c", "Наводнение в Дагестане",
     "Сильные дожди вызвали наводнение в Дагестане, затоплены сотни домов в Махачкале, "
     "сообщили местные власти. Спасатели эвакуировали жителей."),
]


def test_stories_in_other_scripts_that_share_only_a_date_stay_apart() -> None:
    c = Clusterer()
    warm(c)
    got = [c.add(story(k, text, title=title)).cluster_id for k, title, text in DATE_ONLY]
    assert got == [k for k, _, _ in DATE_ONLY]


def test_two_chinese_reports_of_one_quake_share_a_cluster_and_other_news_stays_apart() -> None:
    c = Clusterer()
    warm(c)
    got = [c.add(story(k, text, title=title)).cluster_id
           for k, title, text in [*ZH_QUAKE, DATE_ONLY[1]]]
    assert got == ["zh-a", "zh-a", "zh-rates"]


def test_russian_reports_cluster_by_their_words() -> None:
    c = Clusterer()
    warm(c)  # no numbers in these texts: the words alone must carry it
    got = [c.add(story(k, text, title=title)).cluster_id for k, title, text in RU]
    assert got == ["ru-a", "ru-a", "ru-c"]


def test_bridge_story_merges_two_clusters_and_later_stories_go_to_the_survivor() -> None:
    # a strict join and a lenient merge make the bridge case easy to construct
    c = Clusterer(Params(join_logit=0.25, merge_logit=0.0, merge_cos=0.3))
    warm(c)
    a = c.add(story("a", FLOOD))
    b = c.add(story("b", QUAKE))
    assert a.cluster_id != b.cluster_id
    fh, _, fb = FLOOD.partition("\n")
    qh, _, qb = QUAKE.partition("\n")
    bridge = c.add(story("bridge", f"{fb}\n{qb}", title=f"{fh}; {qh}"))
    assert bridge.merged, "the bridge story should merge the flood and quake clusters"
    assert set(bridge.merged) | {bridge.cluster_id} == {"a", "b"}
    absorbed = bridge.merged[0]
    assert absorbed not in c.clusters
    later = c.add(story("later", QUAKE.replace("Tuesday", "Wednesday")))
    assert later.cluster_id == bridge.cluster_id


def _stream() -> list[ClusterInput]:
    with ECB.open("rb") as f:
        docs = [d for d in map(orjson.loads, f) if d["split"] == "dev"]
    random.Random(7).shuffle(docs)
    return [story(d["doc_id"], d["text"], d["title"]) for d in docs[:150]]


def test_state_round_trip_continues_identically() -> None:
    items = _stream()
    full = Clusterer()
    ref = [full.add(x) for x in items]
    c = Clusterer()
    got = [c.add(x) for x in items[:75]]
    blob = c.to_bytes()
    assert isinstance(blob, bytes)
    c = Clusterer.from_bytes(blob)
    assert c.to_bytes() == blob
    got += [c.add(x) for x in items[75:]]
    assert got == ref
    assert any(a.cluster_id != x.story_id for a, x in zip(ref, items, strict=True))
    assert c.to_bytes() == full.to_bytes()


def test_features_computed_elsewhere_give_the_same_clustering() -> None:
    ents = ("Abdel Fattah al-Burhan", "RSF", "Valencia", "  ", "RSF")
    items = [story(p.stem, p.read_text(encoding="utf-8")) for p in SEEDS]
    items += [replace(story(k, t), entities=ents[:n]) for n, (k, t) in enumerate(
        (("s", CEASEFIRE_A), ("f", FLOOD), ("q", QUAKE), ("k", CEASEFIRE_B), ("s2", CEASEFIRE_A)))]
    items += [story("seed-untitled", SEEDS[0].read_text(encoding="utf-8"), title="")]
    items += _stream()[:40]
    items += [story("nothing", "", title="")]  # no features at all
    plain, pre = Clusterer(), Clusterer()
    ref = [plain.add(x) for x in items]
    # as a worker process would: computed without the entities, packed, pickled
    computed = [story_features(x.title, x.text) for x in items]
    computed[3] = None  # a story whose features failed: the clusterer computes them itself
    unpacked = pickle.loads(pickle.dumps(PackedFeatures.pack(computed))).unpack()
    assert unpacked[3] is None and len(unpacked) == len(items)
    got = [pre.add(replace(x, features=f)) for x, f in zip(items, unpacked, strict=True)]
    assert got == ref
    assert ref[0].cluster_id == ref[1].cluster_id  # the seeds
    assert pre.to_bytes() == plain.to_bytes()
    # features computed with other params are not used: the clusterer featurises itself
    other, plain = Clusterer(Params(title_weight=3.0)), Clusterer(Params(title_weight=3.0))
    ref = [plain.add(x) for x in items]
    assert [other.add(replace(x, features=story_features(x.title, x.text)))
            for x in items] == ref
    assert other.to_bytes() == plain.to_bytes()


def test_empty_state_round_trips() -> None:
    c = Clusterer.from_bytes(Clusterer().to_bytes())
    assert c.add(story("x", FLOOD)).cluster_id == "x"
    with pytest.raises(ValueError):
        Clusterer.from_bytes(b"garbage")


@pytest.mark.parametrize("title,text,published,fetched", [
    ("", "", None, ""),
    ("", "", None, "not a date"),
    ("Only a title", "", None, DAY0),
    ("", "Only text, no title, no date.", None, DAY0),
    ("12 34", "5,000 6.5 2024 -- !!! ...", "garbage", "2025-13-45"),
    ("Ünïcödé títlé — “quotes”", "Ça va? Straße, Zürich, Łódź 北京 東京 ¼ ² ٣", "2025-03-18", DAY0),
    ("x" * 5000, "y " * 50000, "2025-03-18T12:00:00+02:00", DAY0),
])
def test_bad_input_never_raises(title: str, text: str, published, fetched: str) -> None:
    c = Clusterer()
    for k in range(3):  # twice the same (possibly empty) story, then a normal one
        a = c.add(ClusterInput(f"s{k}", title, text, "src", published, fetched))
        assert isinstance(a, Assignment) and a.cluster_id
    assert c.add(story("ok", FLOOD)).cluster_id
    Clusterer.from_bytes(c.to_bytes())


def test_empty_stories_are_singletons() -> None:
    c = Clusterer()
    ids = {c.add(ClusterInput(f"e{k}", "", "", "src", None, DAY0)).cluster_id for k in range(3)}
    assert ids == {"e0", "e1", "e2"}


def test_duplicate_story_id_gets_a_distinct_cluster_id() -> None:
    c = Clusterer()
    a = c.add(story("same", FLOOD))
    b = c.add(story("same", CEASEFIRE_B))
    assert a.cluster_id == "same" and b.cluster_id != "same"


def test_time_window() -> None:
    c = Clusterer(Params(window_days=7.0, sweep_every=4))
    warm(c, 10)
    first = c.add(story("d0", FLOOD, published="2025-03-20T08:00:00Z"))
    # two days later: same event
    same = c.add(story("d2", FLOOD, published="2025-03-22T08:00:00Z"))
    assert same.cluster_id == first.cluster_id
    # 30 days after the cluster's last story: a new cluster, even with the same words
    late = c.add(story("d32", FLOOD, published="2025-04-21T08:00:00Z"))
    assert late.cluster_id == "d32"
    # the periodic sweep then drops the dormant cluster from the active set
    for k in range(4):
        c.add(story(f"pad{k}", QUAKE, published="2025-04-21T09:00:00Z"))
    assert first.cluster_id not in c.clusters
    # a story published earlier than the clock (arriving late) may still join active ones
    back = c.add(story("late-copy", FLOOD, published="2025-04-18T08:00:00Z"))
    assert back.cluster_id == "d32"
    # without `published`, `fetched` is the story's time
    f = c.add(story("f", FLOOD, published=None, fetched="2025-04-22T08:00:00Z"))
    assert f.cluster_id == "d32"


def test_a_backfill_of_old_stories_clusters_them_by_their_own_times() -> None:
    """A feed lists its newest story first: the clock is then weeks ahead of the rest."""
    c = Clusterer(Params(window_days=7.0))
    warm(c, 10)
    c.add(story("new", QUAKE.replace("Malatya", "Van"), published="2025-03-20T08:00:00Z"))
    got = {c.add(story(f"old{k}", FLOOD, published=f"2025-03-0{1 + k}T08:00:00Z",
                       source=f"s{k}")).cluster_id for k in range(3)}
    assert got == {"old0"}


HINDI = [
    ("प्रधानमंत्री मोदी ने संसद में भाषण दिया",
     "प्रधानमंत्री ने संसद में नई नीति की घोषणा की और विपक्ष ने विरोध किया"),
    ("दिल्ली में भारी बारिश से जलभराव",
     "राजधानी दिल्ली में मूसलाधार बारिश के कारण कई इलाकों में पानी भर गया"),
    ("क्रिकेट विश्व कप में भारत की जीत",
     "भारतीय टीम ने फाइनल मुकाबले में ऑस्ट्रेलिया को हराकर खिताब जीता"),
    ("शेयर बाजार में भारी गिरावट", "सेंसेक्स और निफ्टी में कारोबार के दौरान तेज गिरावट दर्ज की गई"),
]


def test_words_keep_their_vowel_signs_so_unrelated_hindi_stories_stay_apart() -> None:
    c = Clusterer()
    got = [c.add(story(f"h{k}", text, title=title)).cluster_id
           for k, (title, text) in enumerate(HINDI)]
    assert got == ["h0", "h1", "h2", "h3"]


def test_a_bridge_story_never_merges_clusters_the_window_keeps_apart() -> None:
    c = Clusterer(Params(window_days=7.0, sweep_every=10_000))
    warm(c, 10)
    assert c.add(story("jan1", FLOOD, published="2025-01-01T08:00:00Z")).cluster_id == "jan1"
    # the same words two months later: a cluster of their own (the window)
    assert c.add(story("mar1", FLOOD, published="2025-03-01T08:00:00Z")).cluster_id == "mar1"
    # a late copy dated next to the first must not merge the two
    bridge = c.add(story("jan2", FLOOD, published="2025-01-02T08:00:00Z", source="d"))
    assert (bridge.cluster_id, bridge.merged) == ("jan1", [])  # its own time's cluster
    assert {"jan1", "mar1"} <= set(c.clusters)


def test_a_future_published_date_does_not_evict_everything() -> None:
    c = Clusterer(Params(sweep_every=2))
    a = c.add(story("a", FLOOD))
    c.add(story("bad", QUAKE, published="2099-01-01T00:00:00Z", fetched=DAY0))
    assert "a" in c.clusters
    assert c.add(story("b", FLOOD)).cluster_id == a.cluster_id


def test_active_cluster_cap_evicts_least_recently_updated() -> None:
    c = Clusterer(Params(max_active=3))
    for k, t in enumerate((CEASEFIRE_A, FLOOD, QUAKE, CEASEFIRE_B)):
        c.add(story(f"s{k}", t))
    assert list(c.clusters) == ["s1", "s2", "s3"]
    assert all(cid in c.clusters for pl in c.postings.values() for cid in pl)


def test_no_textual_or_tinydb_import() -> None:
    src = (REPO / "newswatch" / "cluster.py").read_text(encoding="utf-8")
    assert "textual" not in src and "tinydb" not in src


def test_features_of_a_text_do_not_depend_on_what_the_instance_saw_before() -> None:
    """A capitalised word inside a token ("Assad" in "al-Assad") gets the same bucket
    whether or not the instance met it as a word of its own earlier."""
    from newswatch.cluster import Params
    from newswatch.cluster_features import Features

    text = "Talks in al-Assad's Syria went on. The x-Ray team and al-Assad spoke to O'Brien."
    fresh = Features(Params()).story("Talks resume", text)
    seasoned = Features(Params())
    seasoned.story("", "assad ray brien and obrien went home")
    again = seasoned.story("Talks resume", text)
    assert fresh.ids.tolist() == again.ids.tolist()
    assert fresh.raw.tolist() == again.raw.tolist()


PIRATES_A = """Pirates free 23 sailors from hijacked tanker after $3 million ransom paid on Dec. 14
Somali pirates freed the 23 sailors of the oil tanker MV Sirius they seized in the Gulf of Aden,
the owner Vela International said, after a ransom of $3 million was dropped on the deck on Dec. 14.
The 23 sailors were reported in good health and the tanker is sailing to Mombasa under naval
escort."""

# the same kind of event told much the same way, with other numbers and another date
PIRATES_B = """Pirates free 8 sailors from hijacked tanker after $5 million ransom paid on Dec. 4
Somali gunmen released the 8 sailors of the oil tanker MV Aris they held off Eyl in Puntland,
the Greek owner Alpha Marine said, after a ransom of $5 million was paid by its insurers on Dec. 4.
The 8 sailors were flown to Nairobi and the vessel will be towed to Djibouti for repairs."""


def test_event_slots_are_read_from_numbers_and_days_of_a_month() -> None:
    got = story_features("Ransom paid on Dec. 14", "A 6.1-magnitude quake hit as 23 sailors "
                         "were freed on 2 March.\nIn 2013\nLindsay Lohan said").slots
    # a number and the word after it (also inside a hyphenated token), days of a month;
    # never across a line break ("2013" / "Lindsay")
    assert got == ("#magni 6.1", "#march 2", "#sailo 23", "@dec 14", "@mar 2")


def test_ordinals_and_number_words_are_event_slots_too() -> None:
    got = story_features("Matt Smith named the eleventh Doctor",
                         "The 12th Doctor. Three sailors and twelve\nmen were seen for the "
                         "first time by one of the crew.").slots
    # "one" and "first" count nothing here; no slot across the line break ("twelve" / "men")
    assert got == ("#docto 11", "#docto 12", "#sailo 3")


def test_same_kind_events_with_other_numbers_and_dates_stay_apart() -> None:
    """The event slots (23 sailors vs 8, $3 million vs $5 million, Dec. 14 vs Dec. 4)
    decide it: without them the second story joins the first."""
    for params, apart in ((Params(), True), (Params(slot_match=0.0, slot_conf=0.0), False)):
        c = Clusterer(params)
        warm(c)
        a = c.add(story("a", PIRATES_A))
        b = c.add(story("b", PIRATES_B))
        assert (a.cluster_id != b.cluster_id) is apart
        retold = PIRATES_A.replace("Vela International", "the owner")
        assert c.add(story("a2", retold, source="other")).cluster_id == a.cluster_id


def test_a_big_clusters_slot_counts_stay_bounded() -> None:
    counts: slot.Counts = {}
    for n in range(1000):  # every member names another count of sailors, and 23
        slot.count(counts, slot.group((f"#sailo {n + 100}", "#sailo 23")))
    assert len(counts["#sailo"]) <= slot.MAX_VALUES
    assert counts["#sailo"]["23"] == 1000  # the value most members name is kept
    merged: slot.Counts = {"#sailo": {"7": 5}}
    slot.merge(merged, counts)
    assert len(merged["#sailo"]) <= slot.MAX_VALUES and merged["#sailo"]["23"] == 1000


def test_entities_folded_where_the_features_are_made_equal_folding_them_later() -> None:
    from newswatch.cluster_features import Features

    docs = [(x.title, x.text) for x in background(60)]
    entities = [("zelensky", "black-sea")[: k % 3] for k in range(len(docs))]
    feat = Features(Params())
    folded = feat.stories(docs, entities).unpack()
    plain = feat.stories(docs).unpack()
    for f, p, ents in zip(folded, plain, entities, strict=True):
        assert f is not None and p is not None and f.entities == ents
        for a, b in zip(feat.fold(f, ents), feat.fold(p, ents), strict=True):
            assert (a == b).all() if hasattr(a, "all") else a == b
    # a clusterer given either ends in the same state; features folded with other entities
    # than the story now has are made afresh, never folded twice
    def state(feats: list, given: list) -> bytes:
        c = Clusterer()
        for k, ((t, x), f, ents) in enumerate(zip(docs, feats, given, strict=True)):
            c.add(ClusterInput(f"s{k}", t, x, "src", None, "2026-01-01T00:00:00Z", ents, f))
        return c.to_bytes()

    nato = [("nato",)] * len(docs)
    assert state(folded, entities) == state(plain, entities) != state(plain, [()] * len(docs))
    assert state(folded, nato) == state([None] * len(docs), nato)
    # slim, as a parse worker ships them (int32 ids, no raw weights): the same state; with
    # other entities than the ones folded in (none, here) they are made afresh too
    shipped = pickle.loads(pickle.dumps(feat.stories(docs, entities).slim()))
    assert shipped.raw is None and shipped.ids.dtype == np.int32
    slim = shipped.unpack()
    assert all(f is not None and f.ids.dtype == np.intp for f in slim)
    assert state(slim, entities) == state(folded, entities)
    slim_plain = feat.stories(docs).slim().unpack()
    assert state(slim_plain, nato) == state([None] * len(docs), nato)
    assert state(slim_plain, [()] * len(docs)) == state(plain, [()] * len(docs))


def test_a_version_3_state_loads_and_is_saved_as_version_4() -> None:
    """Version 3 kept every cluster's slot counts in the header; version 4 keeps them as
    per-cluster bytes, parsed only when a cluster is used again."""
    v3 = (REPO / "tests" / "data" / "clusterer-v3.bin").read_bytes()  # 30 stories, session 4
    assert v3.startswith(b"NWCL3")
    old = Clusterer.from_bytes(v3)
    v4 = old.to_bytes()
    assert v4.startswith(b"NWCL4")
    new = Clusterer.from_bytes(v4)
    assert new.to_bytes() == v4  # slot bytes never read are saved as they were
    assert any(c.saved_slots and c._slots is None for c in new.clusters.values())
    assert {k: c.slots for k, c in new.clusters.items()} == {
        k: c.slots for k, c in old.clusters.items()}
    assert any(c.slots for c in new.clusters.values())
    items = _stream()[30:60]
    assert [old.add(x) for x in items] == [new.add(x) for x in items]
    assert old.to_bytes() == new.to_bytes()


def test_a_version_4_state_from_before_late_joins_loads_with_nobody_passed_over() -> None:
    old_bytes = (REPO / "tests" / "data" / "clusterer-v4-no-passed.bin").read_bytes()
    old = Clusterer.from_bytes(old_bytes)  # 30 stories, session 7: no "passed" section
    assert old.clusters and all(c.passed == 0 for c in old.clusters.values())
    assert old.p.bias == -0.24  # a saved state keeps the parameters it was made with
    new = Clusterer.from_bytes(old.to_bytes())
    items = _stream()[30:60]
    assert [old.add(x) for x in items] == [new.add(x) for x in items]
    assert old.to_bytes() == new.to_bytes()


def test_a_stores_saved_clusterer_decides_with_this_versions_thresholds(
        tmp_path: Path) -> None:
    """A state saved by the session-7 code (bias -0.24, merge logit -0.05) loads as
    saved for exact resumes, and as the store's clusterer with today's thresholds (tuned
    together with late joins) and its own centroid make-up."""
    from newswatch.clusters import BLOB, ClusterService
    from newswatch.store import Store

    old_bytes = (REPO / "tests" / "data" / "clusterer-v4-no-passed.bin").read_bytes()
    assert Clusterer.from_bytes(old_bytes).p.bias == -0.24
    store = Store(tmp_path / "db.json")
    with store.transaction() as tx:
        tx.put_blob(BLOB, old_bytes)
    service = ClusterService()
    service.prepare(store)
    p = service._clusterer.p  # type: ignore[union-attr]
    assert (p.bias, p.merge_logit, p.late_pass) == (Params().bias, Params().merge_logit,
                                                    Params().late_pass)
    made = Clusterer(Params(title_weight=3.0, doc_terms=50, bias=-0.5))
    for x in _stream()[:10]:
        made.add(x)
    again = Clusterer.from_bytes(made.to_bytes(), thresholds=Params())
    assert (again.p.title_weight, again.p.doc_terms, again.p.bias) == (3.0, 50, Params().bias)
    assert all(getattr(again.p, k) == getattr(made.p, k) for k in SHAPE)


FLOOD_ANGER = """Valencia floods: anger over late warnings
Residents of Paiporta and Alfafar said phone alerts came hours after the flash floods
reached their homes. Volunteers with shovels cleared streets of mud and wrecked cars."""


def _grow(c: Clusterer, base: str, first: str, n: int, start: int = 1) -> list[Assignment]:
    """Add n reworded copies of ``base`` from other sources: they join its cluster."""
    out = []
    for i in range(start, start + n):
        text = base.replace("12 people", f"{12 + i} people").replace("420", f"{420 + i}")
        out.append(c.add(story(f"{first}{i}", text, source=f"outlet{i}")))
    return out


def test_a_lone_story_passed_over_often_late_joins_the_cluster_of_its_event() -> None:
    # a strict join keeps the anger report out of the flood cluster when it arrives
    c = Clusterer(Params(join_logit=0.1))
    warm(c)
    assert c.add(story("f0", FLOOD)).cluster_id == "f0"
    assert c.add(story("anger", FLOOD_ANGER)).cluster_id == "anger"
    grown = _grow(c, FLOOD, "f", c.p.late_pass)
    assert all(a.cluster_id == "f0" for a in grown)
    assert [a.merged for a in grown[:-1]] == [[]] * (c.p.late_pass - 1)
    assert grown[-1].merged == ["anger"]  # passed over late_pass times: it joins
    assert "anger" not in c.clusters and c.clusters["f0"].n == c.p.late_pass + 2


def test_a_lone_story_of_another_event_of_the_same_kind_is_never_late_joined() -> None:
    c = Clusterer(Params(join_logit=0.1))
    warm(c)
    c.add(story("sudan", CEASEFIRE_A))
    assert c.add(story("karabakh", CEASEFIRE_B)).cluster_id == "karabakh"
    grown = _grow(c, CEASEFIRE_A, "sudan", 3 * c.p.late_pass)
    assert all(a.cluster_id == "sudan" and not a.merged for a in grown)
    assert c.clusters["karabakh"].passed == c.p.late_pass  # passed over, capped, and apart


def test_times_passed_over_survive_a_state_round_trip() -> None:
    def start() -> Clusterer:
        c = Clusterer(Params(join_logit=0.1))
        warm(c)
        c.add(story("f0", FLOOD))
        c.add(story("anger", FLOOD_ANGER))
        _grow(c, FLOOD, "f", 3)
        return c

    full, c = start(), start()
    assert c.clusters["anger"].passed == 3
    c = Clusterer.from_bytes(c.to_bytes())
    assert c.clusters["anger"].passed == 3
    rest = c.p.late_pass - 3
    assert _grow(c, FLOOD, "f", rest, 4) == _grow(full, FLOOD, "f", rest, 4)
    assert "anger" not in c.clusters
    assert c.to_bytes() == full.to_bytes()


def _templated(kinds: int, rounds: int = 12, per: int = 4) -> list[tuple[int, ClusterInput]]:
    """Events written from a template per kind, differing only in a place, a number and a
    day (as wire services and automated feeds write them), each told by three outlets."""
    rng = random.Random(11)
    syl = ["vel", "kar", "mon", "dri", "sta", "lo", "ber", "quin", "tor", "ash", "zel", "mar"]
    templates = [("Negotiators in {city} discuss a ceasefire covering {n} frontline villages",
                  "Officials said on {day} that a ceasefire along the front could begin within"
                  " {n} days. Envoys met in {city} to settle the terms."),
                 ("{city} marathon draws {n} runners despite rain on {day}",
                  "{city} marathon draws {n} runners despite rain on {day}. Organisers said"
                  " attendance was good and the event ran smoothly.")]
    out, event = [], 0
    for _ in range(rounds):
        batch = []
        for title, text in templates[:kinds]:
            for _ in range(per):
                ev = {"city": "".join(rng.choice(syl) for _ in range(3)).capitalize(),
                      "n": rng.randint(2, 900), "day": rng.choice(["Monday", "Friday"])}
                batch += [(event, story(f"e{event}-{o}", text.format(**ev),
                                        title.format(**ev), source=f"outlet{o}"))
                          for o in range(3)]
                event += 1
        rng.shuffle(batch)
        out += batch
    return out


@pytest.mark.parametrize("kinds", [1, 2])
def test_templated_events_do_not_collapse_into_one_cluster_per_template(kinds: int) -> None:
    c = Clusterer()
    events: dict[str, set[int]] = {}
    for event, x in _templated(kinds):
        a = c.add(x)
        for gone in a.merged:
            events.setdefault(a.cluster_id, set()).update(events.pop(gone, set()))
        events.setdefault(a.cluster_id, set()).add(event)
    # before the cover rule: 2 clusters of 48 events each for the two kinds
    assert len(events) >= 0.7 * 48 * kinds
    assert max(map(len, events.values())) <= 16  # a big cluster stops growing
