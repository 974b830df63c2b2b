//! Traffic simulation: synthetic requests per Service, routed by the routing objects in the API
//! to the pods that can serve them, with outcomes drawn from each image's profile and recorded
//! by the exporter; plus a service proxy for real requests. It never changes API objects.

pub mod generator;
pub mod routing;
