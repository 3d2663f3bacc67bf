#!/usr/bin/python3
"""Xapian's side of Marquee's bench: build an index of the bench's catalog, then answer its queries.

    xapian_peer.py build CATALOG.tsv DB SHARD SHARDS   index every SHARDS-th movie, from the SHARD-th
    xapian_peer.py merge DB OUT SHARD_DB...            compact the shards into one database
    xapian_peer.py serve DB                            answer one JSON query a line on stdin, one JSON line out

The catalog is the bench's TSV: id, title, overview, directors, cast, genres, keywords, prior. Field weights
are Marquee's default ranking doubled to integers; the prior is added to the text weight through a value
posting source, which Xapian's pruning takes into account. A query matches every word first and, when that
fills less than a page, some words (as Marquee's tiers do); with "prefix", the last word also stands for
its 50 most frequent completions.
"""
import json
import sys

import xapian

FIELDS = (("title", 6), ("overview", 2), ("directors", 6), ("cast", 6), ("genres", 3), ("keywords", 5))
PRIOR_SLOT = 0


def build(catalog, path, shard, shards):
    db = xapian.WritableDatabase(path, xapian.DB_CREATE_OR_OVERWRITE)
    tg = xapian.TermGenerator()
    tg.set_stemmer(xapian.Stem("en"))
    tg.set_stemming_strategy(xapian.TermGenerator.STEM_SOME)
    with open(catalog, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % shards != shard:
                continue
            cols = line.rstrip("\n").split("\t")
            doc = xapian.Document()
            tg.set_document(doc)
            for (_, weight), text in zip(FIELDS, cols[1:7]):
                if text:
                    tg.index_text_without_positions(text, weight)
            doc.add_value(PRIOR_SLOT, xapian.sortable_serialise(float(cols[7])))
            doc.set_data(cols[0])
            db.add_document(doc)
    db.commit()
    db.close()


def merge(out, shards):
    db = xapian.Database()
    for s in shards:
        db.add_database(xapian.Database(s))
    db.compact(out)


def serve(path):
    db = xapian.Database(path)
    qp = xapian.QueryParser()
    qp.set_stemmer(xapian.Stem("en"))
    qp.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
    qp.set_database(db)
    qp.set_max_expansion(50, xapian.Query.WILDCARD_LIMIT_MOST_FREQUENT, xapian.QueryParser.FLAG_PARTIAL)
    enquire = xapian.Enquire(db)
    prior = xapian.Query(xapian.ValueWeightPostingSource(PRIOR_SLOT))
    print(json.dumps({"ready": db.get_doccount()}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        flags = xapian.QueryParser.FLAG_DEFAULT
        if req.get("prefix"):
            flags |= xapian.QueryParser.FLAG_PARTIAL
        ids, total = [], 0
        for op in (xapian.Query.OP_AND, xapian.Query.OP_OR):
            qp.set_default_op(op)
            text = qp.parse_query(req["q"], flags)
            enquire.set_query(xapian.Query(xapian.Query.OP_AND_MAYBE, text, prior))
            mset = enquire.get_mset(0, 10)
            total = mset.get_matches_estimated()
            ids = [m.document.get_data().decode() for m in mset]
            if len(ids) >= 10:
                break
        print(json.dumps({"ids": ids, "total": total}), flush=True)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "build":
        build(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == "merge":
        merge(args[0], args[1:])
    elif cmd == "serve":
        serve(args[0])
    else:
        sys.exit("unknown command " + cmd)
