-- migrate:up
CREATE TABLE events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    venue_id   bigint NOT NULL REFERENCES venues (id),
    title      text NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    CHECK (ends_at > starts_at)
);

CREATE TABLE bookings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    bigint NOT NULL REFERENCES events (id),
    email       text NOT NULL,
    seats       integer NOT NULL CHECK (seats > 0),
    booked_at   timestamptz NOT NULL DEFAULT now()
);

-- migrate:down
DROP TABLE bookings;
DROP TABLE events;
