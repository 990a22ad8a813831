"""Regenerates the bad-input corpus in tests/data/bad/ from the embedded penguins CSV.

Run from the repo root: `python tests/data/make_bad_corpus.py`. The files are committed so the
tests read fixed bytes; the 100x file and the one with a 200 KB field are not (1.5 MB, 200 KB), the tests build them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

OUT = Path(__file__).parent / "bad"


def main() -> None:
    good = (resources.files("palmerpenguins") / "data" / "penguins.csv").read_text(encoding="utf-8")
    lines = good.splitlines()
    header, rows = lines[0], lines[1:]
    cols = header.split(",")
    OUT.mkdir(exist_ok=True)

    def write(name: str, text: str | bytes) -> None:
        path = OUT / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")

    def drop_col(i: int) -> str:
        return "\n".join(",".join(f for j, f in enumerate(line.split(",")) if j != i) for line in lines) + "\n"

    def set_col(name: str, value_for: object) -> str:
        i = cols.index(name)
        out = [header]
        for n, line in enumerate(rows):
            fields = line.split(",")
            new = value_for(n, fields[i])  # type: ignore[operator]
            fields[i] = fields[i] if new is None else new
            out.append(",".join(fields))
        return "\n".join(out) + "\n"

    write("missing_column.csv", drop_col(cols.index("body_mass_g")))
    write("extra_column.csv", "\n".join([header + ",ring_id"] + [f"{r},R{n}" for n, r in enumerate(rows)]) + "\n")
    write("wrong_dtype.csv", set_col("bill_length_mm", lambda n, v: "long" if n == 7 else None))
    write("all_null_column.csv", set_col("body_mass_g", lambda n, v: "NA"))
    write("out_of_range.csv", set_col("flipper_length_mm", lambda n, v: "2100" if n % 50 == 3 else None))
    write("unseen_category.csv", set_col("island", lambda n, v: "Atlantis" if n in (5, 150, 300) else None))
    write("empty.csv", "")
    write("header_only.csv", header + "\n")
    latin1_row = "Adelie,Torgersen,39.1,18.7,181,3750,m\xe4le,2007\n".encode("latin-1")
    write("non_utf8.csv", (header + "\n" + "\n".join(rows[:10]) + "\n").encode() + latin1_row)
    write("truncated_last_line.csv", "\n".join(lines) + "\n" + "Gentoo,Biscoe,49.9,16.1")
    write("duplicated_rows.csv", "\n".join([header, *rows, *rows[:40]]) + "\n")
    write("wrong_delimiter.csv", "\n".join(line.replace(",", ";") for line in lines) + "\n")
    # A quote opened on line 12 and never closed: the error must point at line 12, not the end of the file.
    write("unterminated_quote.csv", set_col("island", lambda n, v: '"Biscoe' if n == 10 else None))
    write("header_trailing_space.csv", "\n".join([header.replace(",sex,", ",sex ,"), *rows]) + "\n")
    write("double_bom.csv", "\ufeff\ufeff" + "\n".join(lines) + "\n")
    write("huge_year.csv", set_col("year", lambda n, v: "1e20" if n == 3 else None))
    write("single_class.csv", set_col("species", lambda n, v: "Adelie"))
    # Old Mac line endings: valid input, it must be read like the LF original.
    write("cr_only.csv", "\r".join(lines) + "\r")


if __name__ == "__main__":
    main()
