-- migrate:up
CREATE TABLE venues (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name      text NOT NULL,
    city      text NOT NULL,
    capacity  integer NOT NULL CHECK (capacity > 0)
);

-- migrate:down
DROP TABLE venues;
