-- A key voided before any charge was made with it: the caller gave up on its charge
-- and, asking, found none; the voided row takes the key, so a charge request still
-- in flight with it finds the key used and charges nothing. The first outcome for a
-- key stays its only outcome.
ALTER TABLE charges DROP CONSTRAINT charges_status_check;
ALTER TABLE charges ADD CONSTRAINT charges_status_check CHECK (status IN ('succeeded', 'declined', 'voided'));
ALTER TABLE charges DROP CONSTRAINT charges_amount_cents_check;
ALTER TABLE charges ADD CONSTRAINT charges_amount_cents_check CHECK (amount_cents > 0 OR status = 'voided');
