-- The holds of a booking, for the booking service's recovery (ListHolds).
CREATE INDEX holds_booking ON holds (booking_id);
