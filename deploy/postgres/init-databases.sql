-- Run once by the postgres image on an empty data volume
-- (/docker-entrypoint-initdb.d). One database per service that owns data
-- (docs/contract.md); the services would create a missing one themselves,
-- this only saves each a first-start round trip.
CREATE DATABASE shop_users;
CREATE DATABASE shop_catalog;
CREATE DATABASE shop_inventory;
CREATE DATABASE shop_orders;
CREATE DATABASE shop_payments;
CREATE DATABASE shop_shipping;
