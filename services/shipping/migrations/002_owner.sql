-- Whose shipment it is: shipping answers only its owner (the user of the order),
-- and believes no one who says whose it is.
ALTER TABLE shipments ADD COLUMN user_id uuid;
