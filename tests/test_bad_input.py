"Every kind of bad input gets an error that names the table, the column, the rule and the first rows."
import warnings
from pathlib import Path
import pandas as pd
import pytest
from dtsj_analysis.load import load_dataset, save_dataset, tiny_tables, DataError
from dtsj_analysis.cli import main

def write(tmp_path, change=None, fmt="csv"):
    "The tiny dataset as CSV files, after `change(tables)` edits the raw string tables."
    t = tiny_tables()
    if change: change(t)
    save_dataset(t, tmp_path, fmt)
    return tmp_path

def error_of(path):
    with pytest.raises(DataError) as e: load_dataset(path)
    return e.value.report

def only(report, table, column, rule_part, rows=None):
    "The report has an error of `table.column` whose rule contains `rule_part`, on `rows`."
    hits = [i for i in report.errors if i.table == table and i.column == column and rule_part in i.rule]
    assert hits, f"no {table}.{column} '{rule_part}' error in:\n{report}"
    if rows is not None: assert hits[0].rows == tuple(rows), hits[0]
    return hits[0]

def set_cell(table, col, row, value):
    def change(t): t[table].loc[row, col] = value
    return change

CASES = [  # id, change, table, column, rule, rows
    ("unparseable date", set_cell("prescriptions", "valid_until", 0, "21.05.2025"), "prescriptions", "valid_until", "cannot parse as date", [1]),
    ("unparseable timestamp", set_cell("dispensings", "dispensed_at", 0, "yesterday"), "dispensings", "dispensed_at", "cannot parse as timestamp", [1]),
    ("text in a number column", set_cell("prescriptions", "quantity", 0, "thirty"), "prescriptions", "quantity", "cannot parse as number", [1]),
    ("text in an int column", set_cell("drugs", "units_per_pack", 1, "ten"), "drugs", "units_per_pack", "cannot parse as int", [2]),
    ("fraction in an int column", set_cell("prescriptions", "days_supply", 0, "30.5"), "prescriptions", "days_supply", "cannot parse as int", [1]),
    ("bad boolean", set_cell("facilities", "is_primary_care", 0, "maybe"), "facilities", "is_primary_care", "cannot parse as bool", [1]),
    ("unknown region", set_cell("pharmacies", "region", 1, "atlantis"), "pharmacies", "region", "known region code", [2]),
    ("negative quantity", set_cell("dispensings", "quantity", 0, "-5"), "dispensings", "quantity", "greater_than(0)", [1]),
    ("zero prescribed quantity", set_cell("prescriptions", "quantity", 0, "0"), "prescriptions", "quantity", "greater_than(0)", [1]),
    ("negative price", set_cell("drugs", "reference_price", 0, "-1"), "drugs", "reference_price", "greater_than_or_equal_to(0)", [1]),
    ("bad ATC code", set_cell("drugs", "atc_code", 1, "C9AA2"), "drugs", "atc_code", "ATC level 5", [2]),
    ("empty required value", set_cell("patients", "birth_date", 1, ""), "patients", "birth_date", "required value is empty", [2]),
    ("bad outlet type", set_cell("pharmacies", "outlet_type", 0, "kiosk"), "pharmacies", "outlet_type", "pharmacy or branch", [1]),
    ("bad sex", set_cell("patients", "sex", 0, "X"), "patients", "sex", "M or F", [1]),
]

@pytest.mark.parametrize("name,change,table,column,rule,rows", CASES, ids=[c[0] for c in CASES])
def test_value_errors(tmp_path, name, change, table, column, rule, rows):
    only(error_of(write(tmp_path, change)), table, column, rule, rows)

DISAGREEING = [  # id, change, table, column, rule
    ("valid_until before issue", set_cell("prescriptions", "valid_until", 0, "2025-04-01"), "prescriptions", "valid_until", "on or after the issue date"),
    ("contract ends before it starts", set_cell("contracts", "end_date", 0, "2024-12-31"), "contracts", "end_date", "on or after start_date"),
]

@pytest.mark.parametrize("name,change,table,column,rule", DISAGREEING, ids=[c[0] for c in DISAGREEING])
def test_dates_that_disagree_are_warnings_and_the_row_is_kept(tmp_path, name, change, table, column, rule):
    "The contract rejects none of these: the row stays for the detectors (a prescription valid before it was issued is theirs to see)."
    with warnings.catch_warnings(record=True): ds = load_dataset(write(tmp_path, change))
    try:
        hits = [i for i in ds.report.warnings if i.table == table and i.column == column and rule in i.rule]
        assert hits and hits[0].rows == (1,) and ds.report.ok, ds.report
        assert len(ds.sql(f"SELECT * FROM {table}")) == len(tiny_tables()[table])
    finally: ds.close()

def test_duplicate_key(tmp_path):
    def dup(t): t["prescribers"] = pd.concat([t["prescribers"], t["prescribers"].iloc[[0]]], ignore_index=True)
    i = only(error_of(write(tmp_path, dup)), "prescribers", "prescriber_id", "duplicate key", [1, 3])
    assert i.values == ("D01", "D01")

def test_duplicate_composite_key(tmp_path):
    def dup(t): t["reserve_stock"] = pd.concat([t["reserve_stock"]] * 2, ignore_index=True)
    only(error_of(write(tmp_path, dup)), "reserve_stock", "facility_id, atc_code, as_of", "duplicate key")

def test_missing_table(tmp_path):
    write(tmp_path); (tmp_path / "drugs.csv").unlink()
    r = error_of(tmp_path)
    assert any(i.table == "drugs" and "required table is missing" in i.rule for i in r.errors)

def test_missing_table_stops_only_the_detectors_that_read_it(demo, tmp_path, capsys):
    "The contract: one bad table must not stop the others where they can still be processed."
    tables = {n: df for n, df in demo.tables.items() if n != "reserve_stock"}
    save_dataset(tables, tmp_path / "data"); out = tmp_path / "f.csv"
    assert main(["detect", "--data", str(tmp_path / "data"), "--start", "2025-04-21", "--end", "2025-04-28", "--out", str(out)]) == 1
    f, err = pd.read_csv(out, dtype=str), capsys.readouterr().err
    assert "reserve_stock_rx" not in set(f.detector) and len(set(f.detector)) > 10
    assert "reserve_stock_rx: reserve_stock" in err and "required table is missing" in err
    assert main(["detect", "--data", str(tmp_path / "data"), "--start", "2025-04-21", "--end", "2025-04-28", "--detectors", "reserve_stock_rx",
                 "--out", str(tmp_path / "g.csv")]) == 2 and not (tmp_path / "g.csv").exists()
    capsys.readouterr()                                  # the week's page is published, saying what is missing and why
    assert main(["report", "--data", str(tmp_path / "data"), "--region", "navoi", "--week", "2025-04-21", "--out", str(tmp_path / "r"), "--no-pdf", "--lang", "en"]) == 1
    assert "table(s) that cannot be used: reserve_stock; 1 check(s) not run (reserve_stock_rx)" in capsys.readouterr().err
    page = (tmp_path / "r" / "site" / "2025-04-21" / "navoi.en.html").read_text()
    assert "Because of errors in the data these tables cannot be used: reserve_stock." in page
    assert "Checks not run (reserve_stock cannot be used): Reimbursement prescription for a medicine the facility holds in reserve." in page
    assert 'data-key="rx_issued"' in page and 'data-key="findings:inactive_outlet"' in page       # the rest is there

def test_missing_column(tmp_path):
    only(error_of(write(tmp_path, lambda t: t["dispensings"].pop("amount_claimed"))), "dispensings", "amount_claimed", "required column is missing")

def test_empty_file(tmp_path):
    write(tmp_path); (tmp_path / "patients.csv").write_text("")
    assert any(i.table == "patients" and "empty" in i.rule for i in error_of(tmp_path).errors)

def test_header_only_file_is_valid_but_empty(tmp_path):
    write(tmp_path); (tmp_path / "reserve_stock.csv").write_text("facility_id,atc_code,as_of,quantity_on_hand\n")
    assert len(load_dataset(tmp_path).reserve_stock) == 0

def test_undecodable_file(tmp_path):
    write(tmp_path); (tmp_path / "drugs.csv").write_bytes(b"drug_code,atc_code\n" + bytes([0x98, 0x98, 0x81]) * 50)
    r = error_of(tmp_path)
    assert any(i.table == "drugs" and "not UTF-8" in i.rule for i in r.errors), r

def test_windows_1251_is_read(tmp_path):
    write(tmp_path)
    p = tmp_path / "facilities.csv"; p.write_bytes(p.read_text(encoding="utf-8").encode("cp1251"))
    with pytest.warns(UserWarning, match="Windows-1251"): ds = load_dataset(tmp_path)
    assert ds.facilities.district[0] == "Кармана тумани"

def test_utf8_bom_is_read(tmp_path):
    write(tmp_path)
    p = tmp_path / "facilities.csv"; p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    assert load_dataset(tmp_path).facilities.facility_id[0] == "F01"

def test_dangling_reference_is_a_warning_and_rows_are_kept(tmp_path):
    write(tmp_path, set_cell("dispensings", "prescription_id", 0, "RX404"))
    with pytest.warns(UserWarning, match=r"dispensings.prescription_id: refers to a missing prescriptions.prescription_id"):
        ds = load_dataset(tmp_path)
    assert ds.dispensings.prescription_id.tolist() == ["RX404"] and ds.report.ok

def test_every_error_is_collected_not_just_the_first(tmp_path):
    def many(t):
        t["prescriptions"].loc[0, "quantity"] = "x"; t["drugs"].loc[0, "atc_code"] = "bad"; t["pharmacies"].loc[0, "region"] = "mars"
    assert len(error_of(write(tmp_path, many)).errors) >= 3

def test_extra_columns_are_kept(tmp_path):
    def extra(t): t["drugs"]["manufacturer"] = ["Navoiy Farm", "KRKA"]
    assert load_dataset(write(tmp_path, extra)).drugs.manufacturer.tolist() == ["Navoiy Farm", "KRKA"]

def test_leading_zeros_stay(tmp_path):
    ds = load_dataset(write(tmp_path))
    assert ds.drugs.drug_code.tolist() == ["000101", "000102"] and ds.patients.patient_id[0] == "00012345678901"

def test_validate_command_names_table_column_rows(tmp_path, capsys):
    write(tmp_path, set_cell("prescriptions", "quantity", 0, "thirty"))
    assert main(["validate", "--data", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "ERROR prescriptions.quantity: cannot parse as number; 1 row(s), first: 1; values: 'thirty'" in out

WEEK = ["--start", "2025-04-21", "--end", "2025-04-28"]

def test_detect_on_bad_data_is_a_message_not_a_traceback(tmp_path, capsys):
    "An error in a Navoi prescription stops Navoi: its findings are left out, with the reason, and the exit code says so."
    write(tmp_path, set_cell("prescriptions", "quantity", 0, "thirty"))
    assert main(["detect", "--data", str(tmp_path), *WEEK, "--out", str(tmp_path / "f.csv")]) == 1
    err = capsys.readouterr().err
    assert "navoi: stopped by 1 error(s): prescriptions.quantity cannot parse as number" in err and "Traceback" not in err
    assert main(["detect", "--data", str(tmp_path), *WEEK, "--region", "navoi", "--out", str(tmp_path / "g.csv")]) == 2
    err = capsys.readouterr().err
    assert "region navoi" in err and "prescriptions.quantity" in err and not (tmp_path / "g.csv").exists()

def test_rows_of_no_region_stop_no_region(tmp_path, capsys):
    "A pharmacy whose region is not a region code is reported, but stops neither Navoi nor the batch."
    write(tmp_path, set_cell("pharmacies", "region", 1, "mars"))
    assert main(["validate", "--data", str(tmp_path)]) == 1
    assert "[rows of no region]" in capsys.readouterr().out
    assert main(["detect", "--data", str(tmp_path), *WEEK, "--region", "navoi", "--out", str(tmp_path / "f.csv")]) == 0

def test_bad_rows_of_an_optional_table_are_left_out(tmp_path, capsys):
    def appeals(t): t["appeals"] = pd.DataFrame(dict(appeal_id=["A1", "A2"], received_at=["2025-04-21T10:00:00"] * 2, region=["navoi"] * 2,
                                                     channel=["phone", "pigeon"], topic=["x", "y"]))
    write(tmp_path, appeals)
    assert main(["detect", "--data", str(tmp_path), *WEEK, "--region", "navoi", "--out", str(tmp_path / "f.csv")]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore"); ds = load_dataset(tmp_path)
    assert ds.appeals.appeal_id.tolist() == ["A1"] and "rows left out" in str(ds.report.warnings)

def test_missing_source(capsys):
    assert main(["validate", "--data", "/no/such/folder"]) == 2
    assert "no such folder" in capsys.readouterr().err
