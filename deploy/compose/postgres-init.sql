-- One role and one database per service: each service owns its data (DESIGN §4).
CREATE ROLE catalog LOGIN PASSWORD 'catalog';
CREATE DATABASE catalog OWNER catalog;
CREATE ROLE booking LOGIN PASSWORD 'booking';
CREATE DATABASE booking OWNER booking;
CREATE ROLE wallet LOGIN PASSWORD 'wallet';
CREATE DATABASE wallet OWNER wallet;
