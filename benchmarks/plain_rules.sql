-- The contract's rule and behaviour detectors written as plain DuckDB SQL: the yardstick of benchmarks/detect.py.
-- Each statement returns (detector, entity_id) for the period [$start, $end), or (detector, entity_id, region) where the
-- contract places one entity in several regions or names entities by district; the tables are the contract's, by name.
-- Written straight from the contract's table of definitions, independently of dtsj_analysis.

-- reserve_stock_rx
SELECT 'reserve_stock_rx' AS detector, r.prescription_id AS entity_id
FROM prescriptions r ASOF JOIN reserve_stock s
  ON s.facility_id = r.facility_id AND s.atc_code = r.atc_code AND CAST(r.issued_at AS DATE) >= s.as_of
WHERE r.reimbursed AND r.issued_at >= $start AND r.issued_at < $end
  AND CAST(r.issued_at AS DATE) - CAST(s.as_of AS DATE) <= 7 AND s.quantity_on_hand >= r.quantity;

-- inactive_outlet and low_activity_outlet share the fully contracted outlets and their counts
CREATE OR REPLACE TEMP TABLE outlet AS
WITH days AS (SELECT unnest(generate_series(CAST($start AS TIMESTAMP), CAST($end AS TIMESTAMP) - INTERVAL 1 DAY, INTERVAL 1 DAY)) AS d),
covered AS (SELECT c.pharmacy_id, count(DISTINCT d) AS n FROM contracts c JOIN days
            ON c.start_date <= d AND (c.end_date IS NULL OR d <= c.end_date) GROUP BY c.pharmacy_id),
whole AS (SELECT pharmacy_id FROM covered WHERE n = (SELECT count(*) FROM days)),
n AS (SELECT x.pharmacy_id, count(*) AS n FROM dispensings x JOIN prescriptions r USING (prescription_id)
      WHERE r.reimbursed AND x.dispensed_at >= $start AND x.dispensed_at < $end GROUP BY x.pharmacy_id)
SELECT p.pharmacy_id, p.region, p.district, coalesce(n.n, 0) AS n FROM whole JOIN pharmacies p USING (pharmacy_id) LEFT JOIN n USING (pharmacy_id);

SELECT 'inactive_outlet' AS detector, pharmacy_id AS entity_id FROM outlet WHERE n = 0;

WITH peers AS (
  SELECT o.pharmacy_id, o.n,
         (SELECT count(*) FROM outlet q WHERE q.region = o.region AND q.district = o.district AND q.pharmacy_id <> o.pharmacy_id) AS n_district,
         (SELECT median(q.n) FROM outlet q WHERE q.region = o.region AND q.district = o.district AND q.pharmacy_id <> o.pharmacy_id) AS med_district,
         (SELECT median(q.n) FROM outlet q WHERE q.region = o.region AND q.pharmacy_id <> o.pharmacy_id) AS med_region
  FROM outlet o)
SELECT 'low_activity_outlet' AS detector, pharmacy_id AS entity_id FROM peers
WHERE n >= 1 AND n < 0.2 * CASE WHEN n_district < 3 THEN med_region ELSE med_district END;

-- unfilled_protected
SELECT 'unfilled_protected' AS detector, r.prescription_id AS entity_id
FROM prescriptions r JOIN patients p USING (patient_id)
WHERE r.reimbursed AND r.valid_until >= $start AND r.valid_until < $end
  AND r.prescription_id NOT IN (SELECT prescription_id FROM dispensings WHERE dispensed_at < $end AND prescription_id IS NOT NULL)
  AND (date_sub('year', p.birth_date, CAST(r.issued_at AS DATE)) < 18 OR date_sub('year', p.birth_date, CAST(r.issued_at AS DATE)) >= 65
       OR trim(coalesce(p.benefit_category, '')) <> '');

-- the inconsistencies between the two systems, on the dispensings of the period
CREATE OR REPLACE TEMP TABLE facts AS
SELECT x.*, r.prescription_id IS NOT NULL AS found, r.issued_at, r.valid_until, r.reimbursed, r.patient_id, r.atc_code AS rx_atc,
       r.quantity AS rx_quantity, g.atc_code AS drug_atc, g.reference_price
FROM dispensings x LEFT JOIN prescriptions r USING (prescription_id) LEFT JOIN drugs g USING (drug_code)
WHERE x.dispensed_at >= $start AND x.dispensed_at < $end;

SELECT 'dispense_without_rx' AS detector, dispensing_id AS entity_id FROM facts WHERE NOT found;

SELECT 'over_dispensed' AS detector, dispensing_id AS entity_id FROM (
  SELECT x.dispensing_id, x.dispensed_at, r.quantity AS rx_quantity,
         sum(CAST(x.quantity AS DECIMAL(38,6))) OVER (PARTITION BY x.prescription_id ORDER BY x.dispensed_at, x.dispensing_id) AS cumulative
  FROM dispensings x JOIN prescriptions r USING (prescription_id)
  WHERE x.prescription_id IN (SELECT prescription_id FROM facts) AND x.dispensed_at < $end)
WHERE dispensed_at >= $start AND cumulative > CAST(rx_quantity AS DECIMAL(38,6));   -- quantities added exactly, not in DOUBLE

SELECT 'dispense_out_of_window' AS detector, dispensing_id AS entity_id FROM facts
WHERE found AND (dispensed_at < issued_at OR CAST(dispensed_at AS DATE) > valid_until);

SELECT 'price_above_reference' AS detector, dispensing_id AS entity_id FROM facts   -- money compared exactly, not in DOUBLE
WHERE CAST(amount_claimed AS DECIMAL(38,6)) > CAST(quantity AS DECIMAL(38,6)) * CAST(reference_price AS DECIMAL(38,6)) * 1.01;

SELECT 'drug_mismatch' AS detector, dispensing_id AS entity_id FROM facts WHERE found AND drug_atc <> rx_atc;

SELECT 'outlet_not_contracted' AS detector, f.dispensing_id AS entity_id FROM facts f
WHERE f.reimbursed AND NOT EXISTS (SELECT 1 FROM contracts c WHERE c.pharmacy_id = f.pharmacy_id
      AND c.start_date <= CAST(f.dispensed_at AS DATE) AND (c.end_date IS NULL OR CAST(f.dispensed_at AS DATE) <= c.end_date));

-- after_death
SELECT 'after_death' AS detector, r.prescription_id AS entity_id FROM prescriptions r JOIN patients p USING (patient_id)
WHERE r.issued_at >= $start AND r.issued_at < $end AND CAST(r.issued_at AS DATE) > p.died_on
UNION ALL
SELECT 'after_death', f.dispensing_id FROM facts f JOIN patients p USING (patient_id) WHERE CAST(f.dispensed_at AS DATE) > p.died_on;

-- doctor_shopping: a row for each region where one of the patient's overlapping prescriptions was issued
WITH rx AS (
  SELECT r.prescription_id, r.patient_id, r.atc_code, r.prescriber_id, r.facility_id, CAST(r.issued_at AS DATE) AS d0,
         CAST(r.issued_at AS DATE) + CAST(r.days_supply AS INTEGER) AS d1, r.issued_at >= $start AS now
  FROM prescriptions r
  WHERE r.reimbursed AND r.issued_at >= CAST($start AS TIMESTAMP) - INTERVAL 90 DAY AND r.issued_at < $end
    AND EXISTS (SELECT 1 FROM dispensings x WHERE x.prescription_id = r.prescription_id AND x.dispensed_at < $end)),
pairs AS (SELECT a.patient_id, a.facility_id AS fa, b.facility_id AS fb
          FROM rx a JOIN rx b ON a.patient_id = b.patient_id AND a.atc_code = b.atc_code AND a.prescription_id < b.prescription_id
          WHERE a.prescriber_id <> b.prescriber_id AND a.d0 < b.d1 AND b.d0 < a.d1 AND (a.now OR b.now))
SELECT DISTINCT 'doctor_shopping' AS detector, p.patient_id AS entity_id, f.region
FROM (SELECT patient_id, fa AS facility_id FROM pairs UNION SELECT patient_id, fb FROM pairs) p LEFT JOIN facilities f USING (facility_id);

-- prescriber_pharmacy_concentration
WITH x AS (SELECT x.pharmacy_id, r.prescriber_id, p.region, p.district
           FROM dispensings x JOIN prescriptions r USING (prescription_id) JOIN pharmacies p USING (pharmacy_id)
           WHERE r.reimbursed AND x.dispensed_at >= CAST($start AS TIMESTAMP) - INTERVAL 27 DAY AND x.dispensed_at < $end),
by_doc AS (SELECT prescriber_id, pharmacy_id, count(*) AS k, sum(count(*)) OVER (PARTITION BY prescriber_id) AS n
           FROM x GROUP BY prescriber_id, pharmacy_id QUALIFY row_number() OVER (PARTITION BY prescriber_id ORDER BY count(*) DESC, pharmacy_id) = 1),
share AS (SELECT pharmacy_id, count(*) / sum(count(*)) OVER (PARTITION BY region, district) AS s FROM x GROUP BY pharmacy_id, region, district)
SELECT 'prescriber_pharmacy_concentration' AS detector, prescriber_id AS entity_id
FROM by_doc JOIN share USING (pharmacy_id) WHERE n >= 20 AND k >= 0.8 * n AND s < 0.4;

-- defectura: district (of the issuing facility) and ATC code with at least 5 reimbursed prescriptions expiring in the
-- period, half or more of them not dispensed before the period end
WITH due AS (
  SELECT f.region, f.district, r.atc_code,
         CASE WHEN EXISTS (SELECT 1 FROM dispensings x WHERE x.prescription_id = r.prescription_id AND x.dispensed_at < $end) THEN 0 ELSE 1 END AS missed
  FROM prescriptions r JOIN facilities f USING (facility_id)
  WHERE r.reimbursed AND r.valid_until >= $start AND r.valid_until < $end)
SELECT 'defectura' AS detector, district || '|' || atc_code AS entity_id, region
FROM due GROUP BY region, district, atc_code HAVING count(*) >= 5 AND sum(missed) >= 0.5 * count(*);

-- prescribing_gap: a facility with no prescription on a Monday-to-Saturday day of the period and at least 10 on the
-- same weekday of each of the 4 weeks before
WITH days AS (SELECT CAST(d AS DATE) AS day
              FROM (SELECT unnest(generate_series(CAST($start AS TIMESTAMP), CAST($end AS TIMESTAMP) - INTERVAL 1 DAY, INTERVAL 1 DAY)) AS d)
              WHERE dayofweek(d) <> 0),
n AS (SELECT facility_id, CAST(issued_at AS DATE) AS day, count(*) AS n FROM prescriptions GROUP BY facility_id, CAST(issued_at AS DATE)),
usual AS (SELECT d.day, n.facility_id FROM days d JOIN n ON n.day IN (d.day - 7, d.day - 14, d.day - 21, d.day - 28)
          WHERE n.n >= 10 GROUP BY d.day, n.facility_id HAVING count(*) = 4)
SELECT DISTINCT 'prescribing_gap' AS detector, u.facility_id AS entity_id FROM usual u
WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.facility_id = u.facility_id AND n.day = u.day);
