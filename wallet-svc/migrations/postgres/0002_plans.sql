-- Company plans, and each employee's use of the art. 51 c.3 fringe-benefit ceiling per
-- employer and year (across all that employer's c.3 plans).

CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    year INTEGER NOT NULL,
    allowance_cents BIGINT NOT NULL CHECK (allowance_cents > 0),
    allowed_categories TEXT NOT NULL,
    regime TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    carry_over INTEGER NOT NULL,
    carry_over_max_cents BIGINT,
    fingerprint TEXT NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX plans_company ON plans (company_id, year);

CREATE TABLE fringe_usage (
    employee_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    year INTEGER NOT NULL,
    used_cents BIGINT NOT NULL DEFAULT 0 CHECK (used_cents >= 0),
    ceiling_cents BIGINT NOT NULL,
    PRIMARY KEY (employee_id, company_id, year),
    CHECK (used_cents <= ceiling_cents)
);

ALTER TABLE wallets ADD COLUMN has_dependent_children INTEGER NOT NULL DEFAULT 0;
-- Set on holds of c.3 plans: the fringe usage row the hold counts against.
ALTER TABLE holds ADD COLUMN fringe_year INTEGER;
